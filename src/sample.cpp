#include "ringmaster/sample.hpp"

#include <cblas.h>

#include <filesystem>

#include "objectives/gpt_objective.hpp"
#include "ringmaster/checkpoint.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {

void sample_run(const SampleRequest& request, const std::function<void(std::string_view)>& write) {
  namespace fs = std::filesystem;
  const std::string named = "--run " + shown_path(request.run);
  const fs::path dir = request.run;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(named + ": not a directory (a run directory of a gpt run is expected)");
  const fs::path config_file = dir / "config.toml";
  if (!fs::exists(config_file, ec)) throw Error(named + ": no config.toml: not a run directory");
  // The run's own resolved configuration, read for its model: exactly the one its checkpoint was written
  // with (checked below). Files only a run needs (a trace) are not read: they may be gone.
  const Config config = load_config(config_file.string(), {}, 0, ConfigFor::model);
  if (config.objective.kind != "gpt")
    throw Error(named + ": a run of objective.kind = \"" + shown(config.objective.kind) +
                "\"; ringmaster sample needs a run of objective.kind = \"gpt\"");

  const GptShape shape = gpt_shape(config.objective.gpt);
  const ParamLayout layout = gpt_layout(shape, config.lmo.roles);
  const fs::path file = dir / kCheckpointFile;
  if (!fs::exists(file, ec))
    throw Error(named + ": no " + std::string(kCheckpointFile) +
                " yet (a run writes it every checkpoint.every_s seconds and when it stops)");
  const Checkpoint checkpoint = read_checkpoint(file, checkpoint_payload_limit(layout.size(), config.run.workers));
  // The checkpoint's configuration hash covers a trace's rows, which were not read: a trace-replay run's
  // checkpoint is matched to its directory by the run id instead.
  if (config.heterogeneity.profile == "trace") {
    if (checkpoint.run_id != read_run_id(dir, named))
      throw Error("checkpoint " + shown_path(file) + ": belongs to another run than " + shown_path(dir));
  } else if (checkpoint.config_hash != config_hash(config)) {
    throw Error("checkpoint " + shown_path(file) + ": written by a different configuration than " +
                shown_path(config_file));
  }
  if (checkpoint.x.size() != layout.size())
    throw Error("checkpoint " + shown_path(file) + ": holds " + std::to_string(checkpoint.x.size()) +
                " parameters, the network of " + shown_path(config_file) + " has " + std::to_string(layout.size()));
  // One BLAS thread, as in training: the products of one sequence are small.
  openblas_set_num_threads(1);
  write(request.prompt);
  gpt_generate(shape, checkpoint.x, request.prompt, request.tokens, request.temperature, request.seed,
               [&](char byte) { write(std::string_view(&byte, 1)); });
}

}  // namespace ringmaster
