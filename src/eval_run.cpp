#include "ringmaster/eval_run.hpp"

#include <cblas.h>
#include <spdlog/spdlog.h>

#include "ringmaster/data_fingerprint.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/evaluator.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/saved_run.hpp"

namespace ringmaster {

std::string evaluate_run(const EvalRequest& request) {
  if (request.data.path.empty() && !request.data.labels.empty())
    throw Error("--labels " + request.data.labels + ": the labels of the images of --data IMAGES: give both");
  const SavedRun run = open_saved_run(request.run);
  const Config& config = run.config;
  const std::unique_ptr<Objective> objective = make_objective(config);  // the run's data, as the run read it
  const Checkpoint checkpoint = read_saved_checkpoint(run, objective->layout().size());
  // The run's own data, or eval would not compute the run's numbers (docs/method.md §8 "Data fingerprints").
  if (checkpoint.data)
    if (const std::optional<std::string> change = fingerprint_difference(*checkpoint.data, objective->data_fingerprint()))
      throw Error("checkpoint " + (run.dir / kCheckpointFile).string() + ": the run's data changed since it was written: " +
                  objective->data_fingerprint().source + ": " + *change +
                  " (eval reads the run's data as the run did; evaluate other data with --data)");
  if (!request.data.path.empty()) {
    try {
      objective->evaluate_on(request.data);
    } catch (const Error& e) {
      throw Error("--data (a run of objective.kind = \"" + config.objective.kind + "\"): " + e.what());
    }
  }
  spdlog::info("eval: {}: checkpoint at k = {}, training time {:.3f} s; evaluating on {}", run.dir.string(),
               checkpoint.k, checkpoint.train_time_s,
               request.data.path.empty() ? std::string("the run's evaluation data") : request.data.path);
  // One BLAS thread, as the runs evaluate: the products then round exactly as they did in the run.
  openblas_set_num_threads(1);
  EvalScratch scratch(objective->layout(), config.lmo.options());
  EvalSnapshot snapshot;
  snapshot.time_s = checkpoint.train_time_s;
  snapshot.k = checkpoint.k;
  const EvalResult result = evaluate_snapshot(*objective, scratch, snapshot, checkpoint.x);
  const EvalColumns columns{objective->reports_accuracy(), false};
  return eval_header(columns) + eval_row(columns, result);
}

}  // namespace ringmaster
