// Helpers for the tests that run the real `ringmaster` binary (under mpirun or alone) and read the
// run directory it writes.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ringmaster/checkpoint.hpp"

namespace ringmaster::testing {

namespace fs = std::filesystem;

struct Command {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  double seconds = 0.0;
};

// Runs `command` through the shell, capturing stdout+stderr.
inline Command run(const std::string& command) {
  Command result;
  const auto begin = std::chrono::steady_clock::now();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return result;
}

// How long a test waits for a job to get somewhere before it calls it hung. A hang guard, not a speed
// limit: what it waits for comes within seconds even beside two busy loops on 2 cores (an mpirun of 5
// ranks to its first checkpoint: 1.7-2.0 s so; a whole mpirun of the tests: 25 s at most), and it only
// ends a wait for a job that never gets there.
constexpr double kHangGuardS = 300.0;
// The same bound for the `timeout` that wraps a command a test runs to its end.
inline const std::string kHangGuard = std::to_string(static_cast<int>(kHangGuardS));

inline std::string binary() { return RINGMASTER_BINARY; }
inline std::string source_dir() { return RINGMASTER_SOURCE_DIR; }

// `mpirun -np ranks ringmaster train ...` as root, oversubscribed, as the tests need on a 2-core box.
inline std::string mpirun(int ranks, const std::string& args) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
         "ASAN_OPTIONS=detect_leaks=0 timeout " + kHangGuard + " mpirun --oversubscribe -np " +
         std::to_string(ranks) + " " + binary() + " train " + args;
}

// A fresh empty directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = fs::temp_directory_path() / ("ringmaster-test-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& child) const { return (path_ / child).string(); }

 private:
  fs::path path_;
};

inline nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// A CSV file as rows of column name → text.
inline std::vector<std::map<std::string, std::string>> read_csv(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& s) {
    std::vector<std::string> cells;
    std::stringstream ss(s);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (!s.empty() && s.back() == ',') cells.emplace_back();
    return cells;
  };
  if (std::getline(in, line)) header = split(line);
  while (std::getline(in, line)) {
    const auto cells = split(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

// Starts `command` in the background (its own process group), returns the group id. Its output goes
// to `log` (discarded by default).
inline pid_t spawn(const std::string& command, const std::string& log = "/dev/null") {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", (command + " >" + log + " 2>&1").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

inline int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// wait_exit with a bound: -1 if the job is still running after `seconds`, its whole group then killed
// unless `kill_on_timeout` is false (the caller looks at it first, and kills it itself).
inline int wait_exit_within(pid_t pid, double seconds, bool kill_on_timeout = true) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (kill_on_timeout) {
    kill(-pid, SIGKILL);
    wait_exit(pid);
  }
  return -1;
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The pid of MPI rank `rank` of the job whose command line names `out` (its environment holds
// OMPI_COMM_WORLD_RANK), or 0.
inline pid_t rank_pid(const std::string& out, int rank) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = read_text(entry.path() / "cmdline");
    if (cmdline.find(out) == std::string::npos || cmdline.find("train") == std::string::npos) continue;
    std::string environ = read_text(entry.path() / "environ");
    std::replace(environ.begin(), environ.end(), '\0', '\n');
    if (("\n" + environ).find("\nOMPI_COMM_WORLD_RANK=" + std::to_string(rank) + "\n") != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

// The k of the checkpoint in `out`, or -1 while there is none (checkpoints are renamed into place).
inline std::int64_t checkpoint_k(const std::string& out) {
  try {
    return read_checkpoint(fs::path(out) / kCheckpointFile).k;
  } catch (const std::exception&) {
    return -1;
  }
}

// Waits until the job writing `out` has a checkpoint for which `ready(checkpoint)` holds; false after
// kHangGuardS.
template <class Ready>
inline bool wait_for_checkpoint(const std::string& out, Ready ready) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(kHangGuardS);
  while (std::chrono::steady_clock::now() < end) {
    try {
      if (ready(read_checkpoint(fs::path(out) / kCheckpointFile))) return true;
    } catch (const std::exception&) {
      // none yet (checkpoints are renamed into place)
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Waits until the job writing `out` has checkpointed k > `beyond`; returns that k, or -1 after
// kHangGuardS.
inline std::int64_t wait_for_progress(const std::string& out, std::int64_t beyond = 20) {
  std::int64_t k = -1;
  return wait_for_checkpoint(out, [&](const Checkpoint& c) { return (k = c.k) > beyond; }) ? k : -1;
}

// `mpirun ...` as the process itself (exec, no timeout wrapper), so signals sent to it reach mpirun.
inline std::string exec_mpirun(int ranks, const std::string& args) {
  return "exec env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 mpirun "
         "--oversubscribe -np " + std::to_string(ranks) + " " + binary() + " train " + args;
}

// Whether process `pid` has ended: gone, or a zombie its parent has not reaped yet.
inline bool ended(pid_t pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');  // "pid (comm) S ...": comm may hold spaces
  return paren == std::string::npos || stat.compare(paren + 2, 1, "Z") == 0;
}

// The end of a job one of whose ranks was stopped for good: its exit code (-1 when mpirun itself hung
// after the abort, then ended here), and whether every rank of `ranks` has ended within `seconds`.
// Debian 12's Open MPI 4.1.4 with PMIx 4.2.2 hangs now and then (2 runs in 38 here, with every rank
// already dead and unreaped) in PMIx_server_finalize after the abort of a job with a stopped rank: its
// main thread joins the PMIx progress thread, which waits on a lock. That is mpirun's, not the job's.
struct JobEnd {
  int code;
  bool ranks_ended;
};
// Waits for mpirun or, when it hangs, for every rank: once all have ended, mpirun is given 30 s to exit (it
// takes 0.14 s beside two busy loops on 2 cores) before it is called hung and ended, so a hung mpirun costs
// 30 s, not the whole bound. `seconds` is a hang guard for the ranks: the slowest such job, a stopped
// follower shard ended after its 30 s of silence, ends 32 s after the stop so (the old 120 s left it 3.7
// times that).
inline JobEnd end_of_job_with_stopped_rank(pid_t job, const std::vector<pid_t>& ranks, double seconds = 360) {
  const auto all_ended = [&] { return std::all_of(ranks.begin(), ranks.end(), ended); };
  const auto guard = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int code = -1;
  while (code == -1 && !all_ended() && std::chrono::steady_clock::now() < guard)
    code = wait_exit_within(job, 0.5, /*kill_on_timeout=*/false);
  if (code == -1 && all_ended()) code = wait_exit_within(job, 30.0, /*kill_on_timeout=*/false);
  JobEnd end{code, all_ended()};
  if (end.code == -1) {
    kill(-job, SIGKILL);
    wait_exit(job);
    std::cerr << "note: mpirun did not end (Open MPI's PMIx_server_finalize); ended it\n";
  }
  return end;
}

inline void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// The engine tests' quadratic: small and well conditioned (24×24, μ = 0.1: cond(A) ≤ 11), so spectral
// steps with γ = 0.02 converge within seconds, under sqrt heterogeneity with a 5 ms base delay.
// `overrides` ("section.key" → TOML value) replace or add keys. Writes the file, returns its path.
inline std::string write_test_quadratic(const fs::path& path, const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::map<std::string, std::string>> sections = {
      {"run", {{"method", "\"ringmaster\""}}},
      {"method", {{"stepsize", "0.02"}, {"momentum", "0.9"}, {"threshold", "4"}}},
      {"objective", {{"kind", "\"quadratic\""}, {"rows", "24"}, {"cols", "24"}, {"mu", "0.1"}, {"noise", "0.01"}}},
      {"heterogeneity", {{"profile", "\"sqrt\""}, {"base_s", "0.005"}}},
  };
  for (const auto& [key, value] : overrides) {
    const std::size_t dot = key.find('.');
    sections[key.substr(0, dot)][key.substr(dot + 1)] = value;
  }
  std::string text;
  for (const auto& [section, keys] : sections) {
    text += "[" + section + "]\n";
    for (const auto& [key, value] : keys) text += key + " = " + value + "\n";
  }
  write_file(path, text);
  return path.string();
}

}  // namespace ringmaster::testing
