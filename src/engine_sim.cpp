// The virtual-clock engine (docs/method.md §7, §10): `ringmaster simulate`. One process, the same Server,
// methods, LMO, objective and heterogeneity model as the MPI engine; time comes from an event queue
// of gradient completions ordered by (virtual time, worker index) — ties go to the lower index, as in
// docs/method.md §2. A gradient is computed when its computation completes, at a snapshot of the x its worker was
// handed; snapshots are shared by all workers handed the same version and freed when none is left, so
// interrupted computations cost nothing and memory grows with the versions in flight, not with time.
#include <cblas.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <new>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "ringmaster/engine.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/evaluator.hpp"
#include "ringmaster/heterogeneity.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster {
namespace {

// Threads computing LMOs (sim.threads; 0 = every core we may use).
int lanes(const Config& config) { return config.sim.threads > 0 ? config.sim.threads : available_cores(); }

struct Completion {
  double time;
  int worker;
  std::uint64_t job;  // which of the worker's computations; stale if the worker was interrupted since

  bool operator>(const Completion& o) const { return time != o.time ? time > o.time : worker > o.worker; }
};

// What the simulator keeps per worker: its one computation in flight.
struct SimWorker {
  std::uint64_t job = 0;      // id of the computation in flight
  std::int64_t version = 0;   // version of x it is computing at
  double started_s = 0.0;     // virtual time it was handed its point
  double injected_s = 0.0;    // its injected delay
  SampleStream samples;
  double injected_total_s = 0.0;  // elapsed injected time, abandoned work included
};

// Copies of x for the versions some worker is computing at, reference-counted; freed buffers are kept
// for reuse, so steady state allocates nothing. With deferred updates (sim.threads > 1) a worker may
// be handed version k before x has reached it: its copy is then taken when x passes through k
// (arrived()), or, if its gradient is due first, by settling the server up to k (at()).
class Snapshots {
 public:
  explicit Snapshots(std::size_t size) : size_(size) {}

  void hold(std::int64_t version, const Server& server) {
    auto [it, fresh] = live_.try_emplace(version);
    if (fresh) {
      if (spare_.empty()) {
        it->second.x.resize(size_);
      } else {
        it->second.x = std::move(spare_.back());
        spare_.pop_back();
      }
      it->second.ready = false;
      if (server.settled() == version) arrived(version, server.x());
    }
    ++it->second.holders;
  }
  // x has just become `version`.
  void arrived(std::int64_t version, std::span<const float> x) {
    auto it = live_.find(version);
    if (it == live_.end() || it->second.ready) return;
    std::copy(x.begin(), x.end(), it->second.x.begin());
    it->second.ready = true;
  }
  void release(std::int64_t version) {
    auto it = live_.find(version);
    if (--it->second.holders == 0) {
      spare_.push_back(std::move(it->second.x));
      live_.erase(it);
    }
  }
  std::span<const float> at(std::int64_t version, Server& server) {
    Snapshot& s = live_.at(version);
    if (!s.ready) server.settle(version);  // calls arrived(version, x) on the way
    return s.x;
  }

 private:
  struct Snapshot {
    std::vector<float> x;  // (layout.size)
    int holders = 0;
    bool ready = false;    // x holds the version (else x has not reached it yet)
  };
  std::size_t size_;
  std::unordered_map<std::int64_t, Snapshot> live_;
  std::vector<std::vector<float>> spare_;
};

class SimLoop {
 public:
  SimLoop(const Config& config, Objective& objective, Recorder& recorder)
      : config_(config),
        objective_(objective),
        recorder_(recorder),
        n_(config.run.workers),
        delays_(config.heterogeneity, n_, config.run.seed),
        snapshots_(objective.layout().size()),
        gradient_(objective.layout().size()) {
    std::vector<float> x0(objective.layout().size());
    objective.initial_point(x0);
    server_ = std::make_unique<Server>(config, objective.layout(), x0, n_);
    server_->defer_updates(lanes(config), [this](std::int64_t version, std::span<const float> x) {
      snapshots_.arrived(version, x);
    });
    workers_.reserve(static_cast<std::size_t>(n_));
    for (int w = 1; w <= n_; ++w)
      workers_.push_back({0, 0, 0.0, 0.0, SampleStream(config.run.seed, w, 0, objective.training_examples()), 0.0});
  }

  void run() {
    const auto wall_begin = std::chrono::steady_clock::now();
    auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_begin).count(); };
    double eval_s = 0.0;
    EvalScratch scratch(objective_.layout(), config_.lmo.options());
    // Inline, through the same two halves the MPI server runs apart (docs/method.md §7): the clock is
    // virtual, so the evaluation starts and finishes at t and costs no training time.
    auto evaluate = [&](double t) {
      server_->settle(server_->k());
      EvalResult r = evaluate_snapshot(objective_, scratch, recorder_.begin_evaluation(t, server_->k()), server_->x());
      r.started_s = r.finished_s = t;
      recorder_.record_evaluation(r);
      eval_s += r.compute_s;
    };

    double t = 0.0;
    evaluate(t);
    launch(server_->start(), t);
    while (!recorder_.should_stop(t, *server_)) {
      const double next = queue_.empty() ? INFINITY : queue_.top().time;
      // x is constant between arrivals: evaluations due before the next one see the current x.
      const double due = recorder_.next_eval_s();
      if (due <= next && due <= config_.run.time_budget_s) {
        t = due;
        evaluate(t);
        continue;
      }
      if (next > config_.run.time_budget_s) {
        t = config_.run.time_budget_s;
        break;
      }
      const Completion c = queue_.top();
      queue_.pop();
      SimWorker& w = worker(c.worker);
      if (c.job != w.job) continue;  // abandoned: its worker was interrupted
      t = c.time;
      w.injected_total_s += w.injected_s;
      const std::int64_t version = w.version;
      // The sample first: it does not need x, so it is drawn while an LMO that x_version still waits
      // for may be running on another thread (deferred updates).
      objective_.draw_sample(gradient_, w.samples);
      const double loss = objective_.gradient_at_sample(snapshots_.at(version, *server_), gradient_);
      snapshots_.release(version);
      const Outcome& outcome = server_->on_gradient(c.worker, version, gradient_);
      recorder_.arrival(t, *server_, c.worker, version, outcome, loss, 0.0, w.injected_s);
      launch(outcome, t);
      recorder_.progress(wall(), t, *server_);
    }
    evaluate(t);  // final_loss on the final parameters (docs/method.md §8)
    std::vector<WorkerTimes> times;
    for (const SimWorker& w : workers_) times.push_back({0.0, w.injected_total_s});
    // The simulated server is instantaneous: it is never busy on the virtual clock.
    RunTotals totals;
    totals.wall_time_s = wall();
    totals.train_time_s = t;
    totals.server_busy_fraction = 0.0;
    totals.eval_time_s = eval_s;
    // The loop ends only when a stop rule holds: at the latest t = time_budget_s (an empty queue runs
    // the clock to the budget through the evaluations).
    totals.stop_reason = recorder_.stop_reason(t, *server_);
    recorder_.finish(*server_, times, totals);
    spdlog::info("simulated {:.2f}s in {:.2f}s wall: {} updates, {} arrivals; run directory {}", t, wall(),
                 server_->k(), recorder_.arrivals(), recorder_.dir().string());
  }

 private:
  SimWorker& worker(int w) { return workers_[static_cast<std::size_t>(w - 1)]; }

  // Every worker in the outcome's assign list starts a computation at the current (x, k) at time t.
  void launch(const Outcome& outcome, double t) {
    for (const Interrupt& i : outcome.interrupted) {
      SimWorker& w = worker(i.worker);
      w.injected_total_s += t - w.started_s;  // the part of its delay that elapsed
      snapshots_.release(i.version);
    }
    for (int id : outcome.assign) {
      SimWorker& w = worker(id);
      w.version = server_->version(id);
      snapshots_.hold(w.version, *server_);
      // Compute cost is zero on the virtual clock (docs/method.md §7); the injected delay is the whole time.
      // Drawn at the start of every computation, as the MPI worker does, so both engines see the
      // same sequence of delays per worker.
      w.injected_s = delays_.next_delay(id, 0.0);
      w.started_s = t;
      queue_.push({t + w.injected_s, id, ++w.job});
    }
  }

  const Config& config_;
  Objective& objective_;
  Recorder& recorder_;
  int n_;
  DelayModel delays_;
  Snapshots snapshots_;
  std::vector<float> gradient_;  // (layout.size) the arriving gradient
  std::unique_ptr<Server> server_;
  std::vector<SimWorker> workers_;
  std::priority_queue<Completion, std::vector<Completion>, std::greater<>> queue_;
};

// The backstop of load_config's memory estimate (a limit it could not see, or an estimate too low):
// allocations are made here, before the run directory exists, and a failure names the keys.
Error out_of_memory(const Config& config) {
  const double parameters = static_cast<double>(config.objective.rows) * config.objective.cols;
  return Error("out of memory building the objective and server: objective.rows x objective.cols = " +
               std::to_string(config.objective.rows) + " x " + std::to_string(config.objective.cols) + " (" +
               std::to_string(static_cast<std::int64_t>(parameters * sizeof(float))) + " bytes per copy of x) with " +
               std::to_string(config.run.workers) + " run.workers; reduce them");
}

}  // namespace

int run_sim(const RunRequest& request) {
  // The simulator's own limits (virtual time must advance) are checked by load_config, which knows where
  // each value came from.
  const Config config = load_config(request.config_path, request.overrides, 0, ConfigFor::simulator);
  std::unique_ptr<Objective> objective;
  try {
    objective = make_objective(config);
  } catch (const std::bad_alloc&) {
    throw out_of_memory(config);
  }
  // Every LMO runs on one BLAS thread, however many lanes run them side by side (UpdatePipeline): then
  // results do not depend on sim.threads, and lanes do not fight BLAS's own threads for the cores.
  openblas_set_num_threads(1);
  // Everything is validated: only now is the run directory made (locked, with its run id); if writing
  // its first files fails, RunDir removes it again.
  RunDir run_dir = RunDir::create(config, request.out, request.force);
  Recorder recorder(run_dir, config, "sim", config.run.workers, EvalColumns::of(*objective));
  run_dir.started();
  spdlog::info("simulating {} with {} workers on {} ({} LMO threads); run directory {}", config.run.method,
               config.run.workers, config.objective.kind, lanes(config), recorder.dir().string());
  std::optional<SimLoop> loop;
  try {
    loop.emplace(config, *objective, recorder);
  } catch (const std::bad_alloc&) {
    throw out_of_memory(config);
  }
  loop->run();
  return kExitOk;
}

}  // namespace ringmaster
