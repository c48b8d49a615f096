// The Ringmaster server (SPEC §2, §4), independent of any engine: it owns x, the momentum m, the
// version counter k and each worker's version v_i, and turns each gradient arrival into an Outcome
// (accept / discard / superseded, which workers get the current point, which computations are
// abandoned). No MPI, no clock, no I/O: the MPI engine and the simulator both feed it arrivals.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/layout.hpp"
#include "ringmaster/optimizer.hpp"

namespace ringmaster {

enum class Action { accept, discard, superseded, interrupt };
std::string to_string(Action a);

// A computation the server told its worker to abandon (SPEC §4, stale = "interrupt"; rennala rounds).
struct Interrupt {
  int worker;
  std::int64_t version;  // the version it was computing at
};

// What one arrival did. Reused between arrivals: the vectors keep their capacity.
struct Outcome {
  Action action = Action::accept;
  std::int64_t delay = 0;               // δ = k − v_i at arrival (before any update)
  bool updated = false;                 // an update was applied: k advanced by one
  std::vector<int> assign;              // workers (1-based) that now get the current (x, k)
  std::vector<Interrupt> interrupted;   // abandoned computations; their workers are also in `assign`

  void clear() {
    action = Action::accept;
    delay = 0;
    updated = false;
    assign.clear();
    interrupted.clear();
  }
};

struct WorkerCounters {
  std::int64_t computed = 0;     // gradients that arrived (any action)
  std::int64_t accepted = 0;
  std::int64_t discarded = 0;
  std::int64_t superseded = 0;
  std::int64_t interrupted = 0;  // computations abandoned on the server's order
};

class Method;

class Server {
 public:
  Server(const Config& config, const ParamLayout& layout, std::span<const float> x0, int workers);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Hands every worker the initial point (x0, 0).
  const Outcome& start();
  // A gradient g from worker (1-based) computed at `version` arrived.
  const Outcome& on_gradient(int worker, std::int64_t version, std::span<const float> g);

  std::int64_t k() const { return k_; }
  int workers() const { return workers_; }
  std::span<const float> x() const { return x_; }
  std::span<const float> momentum() const { return m_; }
  std::int64_t version(int worker) const { return version_[index(worker)]; }
  bool computing(int worker) const { return computing_[index(worker)] != 0; }
  const WorkerCounters& counters(int worker) const { return counters_[index(worker)]; }
  const Method& method() const { return *method_; }
  const ParamLayout& layout() const { return optimizer_.layout(); }
  LmoOptimizer& optimizer() { return optimizer_; }

  // --- primitives the methods are written in (SPEC §3, §4) ---
  // One momentum + LMO step (SPEC §3); k advances.
  void lmo_step(std::span<const float> g, double stepsize, double alpha);
  // x ← x − γ g (Ringmaster ASGD); k advances.
  void sgd_step(std::span<const float> g, double stepsize);
  // Worker gets the current (x, k): v_i = k, it is computing.
  void assign(int worker);
  // Worker abandons its computation and gets the current (x, k).
  void interrupt(int worker);
  // Interrupts every computing worker j with k − v_j ≥ threshold (SPEC §4, stale = "interrupt").
  void interrupt_stale(std::int64_t threshold);
  // Worker waits without work until assigned (sync).
  void idle(int worker);
  Outcome& outcome() { return outcome_; }

 private:
  std::size_t index(int worker) const { return static_cast<std::size_t>(worker - 1); }

  int workers_;
  LmoOptimizer optimizer_;
  std::vector<float> x_;                 // (layout.size) parameters
  std::vector<float> m_;                 // (layout.size) momentum buffer
  std::int64_t k_ = 0;                   // updates applied
  std::vector<std::int64_t> version_;    // v_i, i = 1..n
  std::vector<char> computing_;          // worker i has a computation assigned
  std::vector<WorkerCounters> counters_;
  std::unique_ptr<Method> method_;
  Outcome outcome_;
};

}  // namespace ringmaster
