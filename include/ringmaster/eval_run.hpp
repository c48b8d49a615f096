// `ringmaster eval` (docs/method.md §10): the loss of a run's newest checkpoint, computed by the code that wrote
// its eval.csv, on the run's own evaluation data or on data the user names.
#pragma once

#include <string>

#include "ringmaster/objective.hpp"

namespace ringmaster {

struct EvalRequest {
  std::string run;  // --run DIR
  EvalData data;    // --data FILE [--labels FILE]; empty: the run's evaluation data
};

// Loads DIR's config.toml, builds its objective (reading its data as the run did), reads and checks its
// checkpoint.bin as `ringmaster sample` does, points the objective at request.data if given, and evaluates the
// checkpoint's x as a run evaluates a snapshot (evaluate_snapshot, on one BLAS thread). Returns eval.csv's
// header and the row of that evaluation at the checkpoint's time_s and k, without train_loss: for the final
// checkpoint of a run, the digits of its last eval.csv row. Throws Error (exit 2) naming DIR or the file.
std::string evaluate_run(const EvalRequest& request);

}  // namespace ringmaster
