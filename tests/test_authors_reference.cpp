// The simulator against the authors' published simulator (docs/method.md §2 "The authors' simulator"): the
// settings of tests/reference/authors_quadratic.json (a noise-free 16×24 quadratic, 8 workers at fixed
// times, R ∈ {1, 2, 4} × sqrt and linear profiles), whose values tests/reference/authors_ringmaster.py
// computed with a re-implementation of the authors' code that reproduces it to 2e-15. With σ = 0 and
// fixed times every decision depends on times only, so the order of arrivals, their delays, the
// interrupts and the final time must be the same exactly; the final f − f* agrees up to float32 rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "support.hpp"

namespace ringmaster {
namespace {

using testing::Command;
using testing::TempDir;

const std::string kReference = testing::source_dir() + "/tests/reference/authors_quadratic.json";

// --set KEY=VALUE for each override, single-quoted for the shell. A JSON scalar's text is the TOML value's:
// numbers and booleans alike, and a JSON string of plain ASCII is a TOML basic string.
std::string set_arguments(const nlohmann::json& overrides) {
  std::string args;
  for (const auto& [key, value] : overrides.items()) args += " --set '" + key + "=" + value.dump() + "'";
  return args;
}

struct Decisions {
  std::vector<int> workers;  // the worker of each arrival, in order
  std::vector<int> delays;   // its delay δ = k − v_i
};

Decisions arrivals(const std::string& run) {
  Decisions d;
  for (const auto& row : testing::read_csv(run + "/events.csv")) {
    if (row.at("action") == "interrupt") continue;
    EXPECT_EQ(row.at("action"), "accept") << "every arrival is applied: the stale are interrupted before they arrive";
    d.workers.push_back(std::stoi(row.at("worker")));
    d.delays.push_back(std::stoi(row.at("delay")));
  }
  return d;
}

struct Case {
  nlohmann::json summary;
  Decisions decisions;
};

// Each case of the reference through `ringmaster simulate`, with `environment` before the command.
std::vector<Case> simulate_cases(const nlohmann::json& reference, const std::string& environment) {
  const std::string common = "-c " + testing::source_dir() + "/" + reference.at("config").get<std::string>() +
                             set_arguments(reference.at("set"));
  TempDir dir("authors-reference");
  std::vector<Case> cases;
  for (const nlohmann::json& c : reference.at("cases")) {
    const std::string run = dir / ("case" + std::to_string(cases.size()));
    const Command cmd = testing::run("ASAN_OPTIONS=detect_leaks=0 " + environment + " timeout -k 5 120 " +
                                     testing::binary() + " simulate " + common + set_arguments(c.at("set")) +
                                     " --out " + run);
    EXPECT_EQ(cmd.exit_code, 0) << c.at("set").dump() << "\n" << cmd.output;
    if (cmd.exit_code != 0) return {};
    cases.push_back({testing::read_json(run + "/summary.json"), arrivals(run)});
  }
  return cases;
}

// The decisions of a case against the reference's: they depend on times only.
void expect_same_decisions(const Case& got, const nlohmann::json& c) {
  EXPECT_EQ(got.decisions.workers, c.at("workers").get<std::vector<int>>()) << "ties go to the lower worker index";
  EXPECT_EQ(got.decisions.delays, c.at("delays").get<std::vector<int>>());
  EXPECT_EQ(got.summary.at("interrupted").get<int>(), c.at("interrupted").get<int>());
  EXPECT_EQ(got.summary.at("train_time_s").get<double>(), c.at("train_time_s").get<double>());
}

TEST(AuthorsReference, SimulatorReproducesTheAuthorsSimulator) {
  const nlohmann::json reference = testing::read_json(kReference);
  ASSERT_EQ(reference.at("cases").size(), 6u);
  // OpenBLAS's Prescott kernels, which every x86-64 CPU runs. The problem is exactly rank one (B = e1,
  // X0 = 0, σ = 0: every column of X is the same), and the spectral LMO is discontinuous there: a
  // difference between columns as small as one rounding is blown up by Newton–Schulz into a step of its
  // own, so a run follows the authors' only while X's columns stay bitwise equal (their own float64 code
  // ends 2.8% lower when one entry moves by 1e-15 after the first update, docs/method.md §2). Kernels
  // that round the 24 columns of one product differently (Haswell's sgemm does) take another path.
  const std::vector<Case> cases = simulate_cases(reference, "OPENBLAS_CORETYPE=Prescott");
  ASSERT_EQ(cases.size(), 6u);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const nlohmann::json& c = reference.at("cases")[i];
    SCOPED_TRACE(c.at("set").dump());
    expect_same_decisions(cases[i], c);
    // x and m are float32 (unit roundoff u = 6e-8), the authors' float64: an error of about u per update
    // bounds the relative difference after 300 updates by ~300 u = 2e-5 if every error had one sign; as
    // independent roundings they add up to ~√300 u = 1e-6 (measured: 1.2e-6 at most). 1e-5 is the bound
    // the comparison was asked to meet.
    const double want = c.at("final_loss").get<double>();
    EXPECT_LE(std::abs(cases[i].summary.at("final_loss").get<double>() - want), 1e-5 * want);
  }
}

TEST(AuthorsReference, DecisionsDoNotDependOnTheBlasKernels) {
  // With the kernels OpenBLAS (or the binary's restart, main.cpp) picks on this machine, whatever path
  // the losses take: arrivals, delays, interrupts and times are the authors'.
  const nlohmann::json reference = testing::read_json(kReference);
  const std::vector<Case> cases = simulate_cases(reference, "");
  ASSERT_EQ(cases.size(), reference.at("cases").size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(reference.at("cases")[i].at("set").dump());
    expect_same_decisions(cases[i], reference.at("cases")[i]);
  }
}

}  // namespace
}  // namespace ringmaster
