// What `ringmaster bench mlp` and `bench gpt` share (docs/benchmarks.md): the PyTorch side as a co-process, and
// the interleaved timing that lets both sides share the same stretch of time on a loaded machine.
#pragma once

#include <sys/types.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace ringmaster {

// A script run by `python` (Debian's /usr/bin/python3 with python3-torch) as a child process, spoken to one
// line at a time over two pipes: ask() writes a line to its stdin and returns the line it answers. `bench`
// names the benchmark in error messages ("bench mlp"). The destructor sends "quit" and waits for it.
class TorchProcess {
 public:
  TorchProcess(const std::string& bench, const std::string& python, const std::string& script);
  ~TorchProcess();
  TorchProcess(const TorchProcess&) = delete;
  TorchProcess& operator=(const TorchProcess&) = delete;

  // The reply without its line end; Error (naming the script and python3-torch) if the child has stopped.
  std::string ask(const std::string& line);

 private:
  std::string bench_;
  std::string what_;  // "python script", for messages
  pid_t pid_ = -1;
  FILE* in_ = nullptr;
  FILE* out_ = nullptr;
};

double median(std::vector<double> v);

// Seconds per call of each side: side(k) makes k calls and returns the seconds they took (a C++ loop, or a
// "run k" asked of a TorchProcess). Each side is warmed up, its k chosen so that a turn lasts ≥ 20 ms, then
// `rounds` rounds run every side's turn in order, so that load from other processes hits all of them;
// the result is each side's median over the rounds.
std::vector<double> interleaved_seconds(const std::vector<std::function<double(int)>>& sides, int rounds = 11);

// The seconds `calls` calls of f take (steady clock).
double time_calls(const std::function<void()>& f, int calls);

}  // namespace ringmaster
