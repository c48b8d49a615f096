#include "ringmaster/objective.hpp"

#include "objectives/gpt_objective.hpp"
#include "objectives/mlp.hpp"
#include "objectives/quadratic.hpp"
#include "ringmaster/error.hpp"

namespace ringmaster {

void Objective::evaluate_on(const EvalData&) {
  throw Error("the objective's loss is computed from x alone (the quadratic's f − f*), on no data: drop --data");
}

const DataFingerprint& Objective::data_fingerprint() const {
  static const DataFingerprint none;
  return none;
}

std::unique_ptr<Objective> make_objective(const Config& config) {
  if (config.objective.kind == "quadratic") return std::make_unique<Quadratic>(config);
  if (config.objective.kind == "mlp") return std::make_unique<Mlp>(config);  // reads the data set: may throw Error
  if (config.objective.kind == "gpt") return std::make_unique<Gpt>(config);  // reads the corpus: may throw Error
  throw Error("objective.kind: '" + config.objective.kind + "' is not implemented (available: quadratic, mlp, gpt)");
}

}  // namespace ringmaster
