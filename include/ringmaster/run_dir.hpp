// The run directory's life (docs/method.md §8): created atomically under a name no other run has, locked for as
// long as the run writes into it, and given a run id that its checkpoints carry.
//
// - A new directory is made by mkdir(2), which fails when the name exists: two runs started in the same
//   second take runs/<stamp>-<method> and runs/<stamp>-<method>-1, never the same one.
// - The lock is flock(2) on `<dir>/.lock`, taken before anything else is written and held until the
//   process ends; the file holds the pid and host of its holder, so a second job (a second --resume,
//   a --force into a running directory) is refused with exit 2 naming the directory and that pid.
// - The run id (16 hex digits from std::random_device) is written to `<dir>/run_id` at creation and
//   recorded in every checkpoint: --resume refuses a checkpoint from another run of the same
//   configuration.
// - A start that fails (a write error, a refused resume) removes the directory it created, never one
//   that existed before.
#pragma once

#include <filesystem>
#include <string>

#include "ringmaster/config.hpp"

namespace ringmaster {

inline constexpr const char* kLockFile = ".lock";
inline constexpr const char* kRunIdFile = "run_id";

class RunDir {
 public:
  // A new run: `out` (else run.out) if given — created, or an existing empty directory, or with
  // `force` a non-empty one — else runs/<date>-<time>-<name>[-N], the name being `name` (--name,
  // check_run_name) or the method. Locks it and writes a new run id. Throws Error naming the path
  // (exit 2) on any failure, having removed what it created; a `name` beside `out` or run.out is one.
  static RunDir create(const Config& config, const std::string& out, bool force, const std::string& name = "");
  // An existing run directory to continue (train --resume): locks it and reads its run id.
  static RunDir resume(const std::string& dir);

  RunDir(RunDir&& other) noexcept;
  RunDir& operator=(RunDir&&) = delete;
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  // Releases the lock. Before started(): also removes the directory if this run created it (or what
  // this run wrote into a directory that was empty).
  ~RunDir();

  const std::filesystem::path& path() const { return path_; }
  const std::string& run_id() const { return run_id_; }
  // The run has started (its files are in place): from now on the directory stays, whatever happens.
  void started() { started_ = true; }

 private:
  RunDir(std::filesystem::path path, std::string label);
  void lock();
  // A new run's id, written to kRunIdFile once the lock is held (both ways of making a directory).
  void give_id();

  std::filesystem::path path_;
  std::string label_;         // how messages name it: "--out DIR", "--resume DIR", "run directory DIR"
  std::string run_id_;
  int lock_fd_ = -1;
  bool created_ = false;      // mkdir'ed by this run
  bool was_empty_ = false;    // existed, empty, before this run
  bool started_ = false;
};

// --name NAME: one path component of safe characters (letters, digits, . _ + -, not starting with . or -),
// at most kMaxRunName bytes; Error naming --name (exit 2) otherwise.
inline constexpr std::size_t kMaxRunName = 64;
void check_run_name(const std::string& name);

// A small file of a run directory (the run id, provenance.json), bounded and type-checked before it is read
// (read_bounded): a symlink to /dev/zero or a FIFO must not hang a resume. Error naming `label` otherwise.
std::string read_run_file(const std::filesystem::path& path, std::size_t limit, const std::string& label);

// A fresh run id: 16 lowercase hex digits (64 random bits).
std::string new_run_id();

// The run id of the run directory `dir` (its kRunIdFile, read bounded, checked to be one); Error naming
// `label` ("--resume DIR") otherwise.
std::string read_run_id(const std::filesystem::path& dir, const std::string& label);

}  // namespace ringmaster
