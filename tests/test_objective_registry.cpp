// The objective registry (include/ringmaster/objective.hpp): every row's size(), which load_config's memory
// check reads before anything is built, is the parameter count of the layout its objective builds.
#include <gtest/gtest.h>

#include <string>

#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/objective.hpp"

namespace ringmaster {
namespace {

TEST(ObjectiveRegistry, EveryRowsSizeIsTheParameterCountOfTheLayoutItBuilds) {
  for (const ObjectiveRow& row : objectives()) {
    SCOPED_TRACE(std::string(row.name));
    Config config;
    config.objective.kind = std::string(row.name);
    config.objective.gpt.eval_tokens = 256;  // the fortunes corpus is plenty; keep the build small
    const ObjectiveSize size = row.size(config);
    EXPECT_GT(size.parameters, 0.0);
    EXPECT_FALSE(size.keys.empty());
    std::unique_ptr<Objective> objective;
    try {
      objective = row.make(config);
    } catch (const Error& e) {  // its data set is not installed here (the Debian package named in the docs)
      GTEST_SKIP() << e.what();
    }
    EXPECT_EQ(size.parameters, static_cast<double>(objective->layout().size()));
  }
}

TEST(ObjectiveRegistry, AnUnknownKindListsTheRegistry) {
  Config config;
  config.objective.kind = "rosenbrock";
  try {
    make_objective(config);
    ADD_FAILURE() << "made an objective of an unknown kind";
  } catch (const Error& e) {
    std::string accepted;
    for (const ObjectiveRow& row : objectives()) accepted += (accepted.empty() ? "" : ", ") + std::string(row.name);
    EXPECT_EQ(std::string(e.what()), "objective.kind: unknown value \"rosenbrock\" (accepted: " + accepted + ")");
  }
}

}  // namespace
}  // namespace ringmaster
