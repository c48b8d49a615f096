#include "ringmaster/sample.hpp"

#include <cblas.h>

#include <filesystem>

#include "objectives/gpt_objective.hpp"
#include "ringmaster/checkpoint.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"

namespace ringmaster {

std::string sample_run(const SampleRequest& request) {
  namespace fs = std::filesystem;
  const std::string shown = "--run " + request.run;
  const fs::path dir = request.run;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(shown + ": not a directory (a run directory of a gpt run is expected)");
  const fs::path config_file = dir / "config.toml";
  if (!fs::exists(config_file, ec)) throw Error(shown + ": no config.toml: not a run directory");
  // The run's own resolved configuration: exactly the one its checkpoint was written with (hash below).
  const Config config = load_config(config_file.string(), {});
  if (config.objective.kind != "gpt")
    throw Error(shown + ": a run of objective.kind = \"" + config.objective.kind +
                "\"; ringmaster sample needs a run of objective.kind = \"gpt\"");

  const GptShape shape = gpt_shape(config.objective.gpt);
  const ParamLayout layout = gpt_layout(shape, config.lmo.roles);
  const fs::path file = dir / kCheckpointFile;
  if (!fs::exists(file, ec))
    throw Error(shown + ": no " + std::string(kCheckpointFile) +
                " yet (a run writes it every checkpoint.every_s seconds and when it stops)");
  const Checkpoint checkpoint = read_checkpoint(file, checkpoint_payload_limit(layout.size(), config.run.workers));
  if (checkpoint.config_hash != config_hash(config))
    throw Error("checkpoint " + file.string() + ": written by a different configuration than " + config_file.string());
  if (checkpoint.x.size() != layout.size())
    throw Error("checkpoint " + file.string() + ": holds " + std::to_string(checkpoint.x.size()) +
                " parameters, the network of " + config_file.string() + " has " + std::to_string(layout.size()));
  // One BLAS thread, as in training: the products of one sequence are small.
  openblas_set_num_threads(1);
  return request.prompt +
         gpt_generate(shape, checkpoint.x, request.prompt, request.tokens, request.temperature, request.seed);
}

}  // namespace ringmaster
