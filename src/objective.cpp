#include "ringmaster/objective.hpp"

#include "ringmaster/error.hpp"

namespace ringmaster {

void Objective::evaluate_on(const EvalData&) {
  throw Error("the objective's loss is computed from x alone (the quadratic's f − f*), on no data: drop --data");
}

const DataFingerprint& Objective::data_fingerprint() const {
  static const DataFingerprint none;
  return none;
}

// The registry (objective.hpp). Each row is defined beside its objective, in src/objectives/<name>.cpp.
ObjectiveRow quadratic_objective();
ObjectiveRow mlp_objective();
ObjectiveRow gpt_objective();

std::span<const ObjectiveRow> objectives() {
  static const std::vector<ObjectiveRow> rows = {quadratic_objective(), mlp_objective(), gpt_objective()};
  return rows;
}

std::vector<std::string_view> objective_names() {
  std::vector<std::string_view> names;
  for (const ObjectiveRow& row : objectives()) names.push_back(row.name);
  return names;
}

const ObjectiveRow& objective_row(std::string_view kind) {
  for (const ObjectiveRow& row : objectives())
    if (row.name == kind) return row;
  throw Error("objective.kind: " + unknown_value(kind, objective_names()));
}

std::unique_ptr<Objective> make_objective(const Config& config) { return objective_row(config.objective.kind).make(config); }

}  // namespace ringmaster
