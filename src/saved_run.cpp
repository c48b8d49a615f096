#include "ringmaster/saved_run.hpp"

#include "ringmaster/error.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {

SavedRun open_saved_run(const std::string& dir) {
  namespace fs = std::filesystem;
  SavedRun run;
  run.shown = "--run " + shown_path(dir);
  run.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(run.dir, ec)) throw Error(run.shown + ": not a directory (a run directory is expected)");
  run.config_file = run.dir / "config.toml";
  if (!fs::exists(run.config_file, ec)) throw Error(run.shown + ": no config.toml: not a run directory");
  // The run's own resolved configuration, read for its model: exactly the one its checkpoint was written with
  // (checked by read_saved_checkpoint). Files only a run needs (a trace) are not read: they may be gone.
  run.config = load_config(run.config_file.string(), {}, 0, ConfigFor::model);
  return run;
}

Checkpoint read_saved_checkpoint(const SavedRun& run, std::size_t params) {
  const std::filesystem::path file = run.dir / kCheckpointFile;
  std::error_code ec;
  if (!std::filesystem::exists(file, ec))
    throw Error(run.shown + ": no " + std::string(kCheckpointFile) +
                " yet (a run writes it every checkpoint.every_s seconds and when it stops)");
  Checkpoint checkpoint = read_checkpoint(file, checkpoint_payload_limit(params, run.config.run.workers));
  // The checkpoint's configuration hash covers a trace's rows, which were not read: a trace-replay run's
  // checkpoint is matched to its directory by the run id instead.
  if (run.config.heterogeneity.profile == Profile::trace) {
    if (checkpoint.run_id != read_run_id(run.dir, run.shown))
      throw Error("checkpoint " + shown_path(file) + ": belongs to another run than " + shown_path(run.dir));
  } else {
    check_config_hash(checkpoint, run.config, shown_path(file), shown_path(run.config_file));
  }
  if (checkpoint.x.size() != params)
    throw Error("checkpoint " + shown_path(file) + ": holds " + std::to_string(checkpoint.x.size()) +
                " parameters, the model of " + shown_path(run.config_file) + " has " + std::to_string(params));
  return checkpoint;
}

}  // namespace ringmaster
