// A run directory opened to read what it learned (`ringmaster sample`, `ringmaster eval`; docs/method.md §10):
// its config.toml, the resolved configuration the run was made with, and its newest checkpoint.bin, checked to
// belong together. The directory is only read: a run may still be writing it (a checkpoint is replaced
// atomically, so a reader sees the previous one or the new one).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/config.hpp"

namespace ringmaster {

struct SavedRun {
  std::string shown;              // "--run DIR", how errors name the directory
  std::filesystem::path dir;
  std::filesystem::path config_file;  // DIR/config.toml
  Config config;
};

// DIR and its config.toml. Throws Error naming `--run DIR` when DIR is not a directory or holds no
// config.toml, and load_config's Error for a config.toml it refuses.
SavedRun open_saved_run(const std::string& dir);

// DIR's checkpoint.bin for a model of `params` parameters: read under the payload bound of a run of that size
// (read_checkpoint: a damaged file is refused before it is decoded), then checked to be written by this
// configuration (its config hash) with `params` parameters. Throws Error naming the file, or `--run DIR` when
// the run has written no checkpoint yet.
Checkpoint read_saved_checkpoint(const SavedRun& run, std::size_t params);

}  // namespace ringmaster
