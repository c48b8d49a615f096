#include "ringmaster/sample.hpp"

#include <cblas.h>

#include "objectives/gpt_objective.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/saved_run.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {

void sample_run(const SampleRequest& request, const std::function<void(std::string_view)>& write) {
  const SavedRun run = open_saved_run(request.run);
  if (run.config.objective.kind != "gpt")
    throw Error(run.shown + ": a run of objective.kind = \"" + shown(run.config.objective.kind) +
                "\"; ringmaster sample needs a run of objective.kind = \"gpt\"");
  // The network's layout alone: generating needs no corpus.
  const GptShape shape = gpt_shape(run.config.objective.gpt);
  const Checkpoint checkpoint = read_saved_checkpoint(run, gpt_layout(shape, run.config.lmo.roles).size());
  // One BLAS thread, as in training: the products of one sequence are small.
  openblas_set_num_threads(1);
  write(request.prompt);
  gpt_generate(shape, checkpoint.x, request.prompt, request.tokens, request.temperature, request.seed,
               [&](char byte) { write(std::string_view(&byte, 1)); });
}

}  // namespace ringmaster
