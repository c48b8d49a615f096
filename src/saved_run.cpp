#include "ringmaster/saved_run.hpp"

#include "ringmaster/error.hpp"

namespace ringmaster {

SavedRun open_saved_run(const std::string& dir) {
  namespace fs = std::filesystem;
  SavedRun run;
  run.shown = "--run " + dir;
  run.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(run.dir, ec)) throw Error(run.shown + ": not a directory (a run directory is expected)");
  run.config_file = run.dir / "config.toml";
  if (!fs::exists(run.config_file, ec)) throw Error(run.shown + ": no config.toml: not a run directory");
  // The run's own resolved configuration: exactly the one its checkpoint was written with (the hash, below).
  run.config = load_config(run.config_file.string(), {});
  return run;
}

Checkpoint read_saved_checkpoint(const SavedRun& run, std::size_t params) {
  const std::filesystem::path file = run.dir / kCheckpointFile;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    throw Error(run.shown + ": no " + std::string(kCheckpointFile) +
                " yet (a run writes it every checkpoint.every_s seconds and when it stops)");
  Checkpoint checkpoint = read_checkpoint(file, checkpoint_payload_limit(params, run.config.run.workers));
  if (checkpoint.config_hash != config_hash(run.config))
    throw Error("checkpoint " + file.string() + ": written by a different configuration than " +
                run.config_file.string());
  if (checkpoint.x.size() != params)
    throw Error("checkpoint " + file.string() + ": holds " + std::to_string(checkpoint.x.size()) +
                " parameters, the model of " + run.config_file.string() + " has " + std::to_string(params));
  return checkpoint;
}

}  // namespace ringmaster
