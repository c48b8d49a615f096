// The one error type of Ringmaster: a message meant for the user (which key, which file and line,
// which rank, what was expected). main() turns it into one log line and exit code 2 (docs/method.md §10).
#pragma once

#include <stdexcept>
#include <string>

namespace ringmaster {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A failure of the machine, not of the input: a write that fails (a full disk, a file size limit, an
// I/O error). Same message rules; main() exits with code 1 for it (a runtime failure, docs/method.md §10).
class RuntimeFailure : public Error {
 public:
  using Error::Error;
};

// Exit codes (docs/method.md §10).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitBadInput = 2;
// Stopped by SIGTERM, SIGINT, SIGHUP or SIGUSR1 after writing a checkpoint: `train --resume DIR` continues.
inline constexpr int kExitStopped = 3;

}  // namespace ringmaster
