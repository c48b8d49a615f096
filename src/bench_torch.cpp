#include "bench_torch.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "ringmaster/error.hpp"

extern char** environ;

namespace ringmaster {

TorchProcess::TorchProcess(const std::string& bench, const std::string& python, const std::string& script)
    : bench_(bench), what_(python + " " + script) {
  int to_child[2], from_child[2];
  if (pipe(to_child) != 0 || pipe(from_child) != 0) throw Error(bench_ + ": cannot create pipes");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  for (int fd : {to_child[0], to_child[1], from_child[0], from_child[1]}) posix_spawn_file_actions_addclose(&actions, fd);
  std::vector<char*> argv{const_cast<char*>(python.c_str()), const_cast<char*>(script.c_str()), nullptr};
  // torch.set_num_threads(1) bounds PyTorch's own pool, not the OpenBLAS that Debian's torch calls for some
  // products, which otherwise starts a thread per core: one thread on both sides means this, in its
  // environment (OpenBLAS reads it when it loads).
  std::string one_thread = "OPENBLAS_NUM_THREADS=1";
  std::vector<char*> env{one_thread.data()};
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "OPENBLAS_NUM_THREADS=", 21) != 0) env.push_back(*e);
  env.push_back(nullptr);
  const int rc = posix_spawnp(&pid_, python.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  close(to_child[0]);
  close(from_child[1]);
  if (rc != 0) {
    close(to_child[1]);
    close(from_child[0]);
    throw Error(bench_ + ": cannot start " + what_ + ": " + std::strerror(rc));
  }
  in_ = fdopen(to_child[1], "w");
  out_ = fdopen(from_child[0], "r");
}

TorchProcess::~TorchProcess() {
  if (in_ != nullptr) {
    std::fputs("quit\n", in_);
    std::fclose(in_);
  }
  if (out_ != nullptr) std::fclose(out_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

std::string TorchProcess::ask(const std::string& line) {
  std::fputs((line + "\n").c_str(), in_);
  std::fflush(in_);
  char reply[256];
  if (std::fgets(reply, sizeof reply, out_) == nullptr)
    throw Error(bench_ + ": the PyTorch reference (" + what_ +
                ") stopped (see its message above; it needs Debian's python3-torch: scripts/bootstrap.sh)");
  std::string text(reply);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double time_calls(const std::function<void()>& f, int calls) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  for (int i = 0; i < calls; ++i) f();
  return std::chrono::duration<double>(clock::now() - t0).count();
}

std::vector<double> interleaved_seconds(const std::vector<std::function<double(int)>>& sides, int rounds) {
  std::vector<int> k;
  for (const auto& side : sides) {
    side(5);  // warm-up: first touch of buffers, BLAS buffers, the interpreter's caches
    k.push_back(std::max(1, static_cast<int>(20e-3 / std::max(side(1), 1e-7))));
  }
  std::vector<std::vector<double>> samples(sides.size());
  for (int round = 0; round < rounds; ++round)
    for (std::size_t i = 0; i < sides.size(); ++i) samples[i].push_back(sides[i](k[i]) / k[i]);
  std::vector<double> medians;
  for (const auto& s : samples) medians.push_back(median(s));
  return medians;
}

}  // namespace ringmaster
