// The virtual-clock engine (docs/method.md §7, §10): `ringmaster simulate`. One process; what the run
// does (Run, run.hpp) and what each worker does (WorkerModel, worker_model.hpp) are the same objects the
// MPI engine uses. This file supplies only the clock and the transport: virtual time, and a queue of
// the computations in flight ordered by their completion (virtual time, worker index) — ties go to the
// lower index, as in docs/method.md §2. A computation costs heterogeneity.compute_s of virtual time plus its injected delay
// (§7). A gradient is computed when the server takes it, at a snapshot of the x its worker was
// handed; snapshots are shared by all workers handed the same version and freed when none is left, so
// interrupted computations cost nothing and memory grows with the versions in flight, not with time.
// The server is a single queue (§7): each update it applies keeps it busy for
// heterogeneity.server_update_s of virtual time (0: none), arrivals meanwhile wait in the order they
// completed, and the points an update sends leave when it ends. With server.shards = S the S shards take
// the same decisions in the same order and update their blocks side by side, so the queue's service
// time is the slowest shard's: its share of the update (ShardPlan), or its own update measured.
#include <cblas.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <new>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ringmaster/clock.hpp"
#include "ringmaster/engine.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/pipeline.hpp"
#include "ringmaster/provenance.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/rng.hpp"
#include "ringmaster/run.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/shards.hpp"
#include "ringmaster/text.hpp"
#include "ringmaster/worker_model.hpp"

namespace ringmaster {
namespace {

// Threads computing LMOs (sim.threads; 0 = every core we may use).
int lanes(const Config& config) { return config.sim.threads > 0 ? config.sim.threads : available_cores(); }

// The computations in flight, the earliest completion first: (virtual time, worker index), ties to the
// lower index (docs/method.md §2). A binary heap indexed by worker, so that a computation abandoned
// and restarted moves in place: with 6,174 workers an update can interrupt 1,500 of them, and
// completions left behind to be skipped on the way out would outnumber the live ones a hundred to one.
class CompletionQueue {
 public:
  explicit CompletionQueue(int workers) : at_(static_cast<std::size_t>(workers) + 1, kAbsent) {}

  bool empty() const { return heap_.empty(); }
  double next_time() const { return heap_.front().time; }
  int next_worker() const { return heap_.front().worker; }
  // Worker's computation completes at `time`, in place of the one it had queued, if any.
  void schedule(int worker, double time) {
    const std::size_t i = at_[static_cast<std::size_t>(worker)];
    if (i == kAbsent) {
      heap_.push_back({time, worker});
      up(heap_.size() - 1);
      return;
    }
    heap_[i].time = time;
    settle(i);
  }
  // Worker's computation is abandoned: it no longer completes (nothing if it had none queued).
  void cancel(int worker) {
    const std::size_t i = at_[static_cast<std::size_t>(worker)];
    if (i == kAbsent) return;
    remove(i);
  }
  void pop() { remove(0); }

 private:
  struct Entry {
    double time;
    int worker;
  };
  static constexpr std::size_t kAbsent = static_cast<std::size_t>(-1);
  static bool before(const Entry& a, const Entry& b) { return a.time != b.time ? a.time < b.time : a.worker < b.worker; }

  void place(std::size_t i, const Entry& e) {
    heap_[i] = e;
    at_[static_cast<std::size_t>(e.worker)] = i;
  }
  void up(std::size_t i) {
    const Entry e = heap_[i];
    while (i > 0 && before(e, heap_[(i - 1) / 2])) {
      place(i, heap_[(i - 1) / 2]);
      i = (i - 1) / 2;
    }
    place(i, e);
  }
  void down(std::size_t i) {
    const Entry e = heap_[i];
    for (std::size_t child; (child = 2 * i + 1) < heap_.size(); i = child) {
      if (child + 1 < heap_.size() && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], e)) break;
      place(i, heap_[child]);
    }
    place(i, e);
  }
  // The last entry takes slot i's place and moves up or down to where it belongs.
  void remove(std::size_t i) {
    at_[static_cast<std::size_t>(heap_[i].worker)] = kAbsent;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (i == heap_.size()) return;
    place(i, last);
    settle(i);
  }
  // The entry at slot i, whose time changed, moves up or down to where it belongs.
  void settle(std::size_t i) {
    if (i > 0 && before(heap_[i], heap_[(i - 1) / 2]))
      up(i);
    else
      down(i);
  }

  std::vector<Entry> heap_;
  std::vector<std::size_t> at_;  // (workers + 1) heap_ slot of each worker's entry, kAbsent when none
};

// What the simulator keeps per worker about its one computation in flight. Apart from the worker's
// WorkerModel (2.5 KB of random stream each): an update touches a quarter of 6,174 workers, and these
// stay in cache.
struct SimWorker {
  std::int64_t version = 0;   // version of x it is computing at
  double started_s = 0.0;     // virtual time it was handed its point
  double injected_s = 0.0;    // its injected delay
  bool computing = false;     // a computation is in flight (it holds a snapshot of x_version)
  bool hung = false;          // fault.inject = "hang" struck: it delivers nothing and takes no point again
};

// Copies of x for the versions some worker is computing at, reference-counted; freed buffers are kept
// for reuse, so steady state allocates nothing. With deferred updates (sim.threads > 1) a worker may
// be handed version k before x has reached it: its copy is then taken when x passes through k
// (arrived()), or, if its gradient is due first, by settling the server up to k (at()). An update that
// interrupts a thousand workers makes a thousand holds of the new version and as many releases of one
// old one: the last snapshot touched is kept at hand, so those cost no lookup.
class Snapshots {
 public:
  explicit Snapshots(std::size_t size) : size_(size) {}

  void hold(std::int64_t version, const Server& server) {
    if (recent_ && recent_version_ == version) {
      ++recent_->holders;
      return;
    }
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
    remember(version, it->second);
  }
  // x has just become `version`.
  void arrived(std::int64_t version, std::span<const float> x) {
    auto it = live_.find(version);
    if (it == live_.end() || it->second.ready) return;
    std::copy(x.begin(), x.end(), it->second.x.begin());
    it->second.ready = true;
  }
  void release(std::int64_t version) {
    if (recent_ && recent_version_ == version && recent_->holders > 1) {
      --recent_->holders;
      return;
    }
    auto it = live_.find(version);
    if (--it->second.holders == 0) {
      if (recent_ == &it->second) recent_ = nullptr;
      spare_.push_back(std::move(it->second.x));
      live_.erase(it);
    } else {
      remember(version, it->second);
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
  // Elements of an unordered_map stay where they are until erased: the pointer is cleared then.
  void remember(std::int64_t version, Snapshot& s) {
    recent_version_ = version;
    recent_ = &s;
  }

  std::size_t size_;
  std::unordered_map<std::int64_t, Snapshot> live_;
  std::vector<std::vector<float>> spare_;
  Snapshot* recent_ = nullptr;  // the snapshot of recent_version_ in live_, the last one held or released
  std::int64_t recent_version_ = 0;
};

// A gradient message waiting for the server: worker `worker`'s computation at `version` completed at
// `at`, with its injected delay. It holds its snapshot of x until it is served.
struct Arrival {
  int worker;
  double at;
  std::int64_t version;
  double injected_s;
};

class SimLoop {
 public:
  SimLoop(const Config& config, Objective& objective, Recorder& recorder, const Checkpoint* resume, double compute_s,
          double update_s, std::string resume_command)
      : config_(config),
        objective_(objective),
        compute_s_(compute_s),
        update_s_(update_s),
        snapshots_(objective.layout().size()),
        gradient_(objective.layout().size()),
        run_(config, objective, recorder, config.run.workers, resume, std::move(resume_command),
             pipelined_updates(lanes(config),
                               [this](std::int64_t version, std::span<const float> x) { snapshots_.arrived(version, x); })),
        server_(run_.server()),
        queue_(config.run.workers) {
    models_.reserve(static_cast<std::size_t>(config.run.workers));
    for (int w = 1; w <= config.run.workers; ++w)
      models_.emplace_back(config, w, run_.epoch(), objective.training_examples());
    workers_.resize(static_cast<std::size_t>(config.run.workers));
  }

  int run() {
    const double budget = config_.run.time_budget_s;
    double t = run_.start_time_s();
    server_free_s_ = t;
    launch(run_.start(t), t, t);
    std::string reason;
    while ((reason = run_.stop_reason(t)).empty()) {
      run_.checkpoint_if_due(t);
      const double completes = queue_.empty() ? INFINITY : queue_.next_time();
      // The server takes the oldest waiting message once it is free (with an instantaneous server
      // nothing ever waits: each message is served as it completes).
      const double serves = waiting_.empty() ? INFINITY : std::max(server_free_s_, waiting_.front().at);
      const double next = std::min(completes, serves);
      // A worker silent for fault.worker_timeout_s is retired when its time is up, unless its gradient
      // arrives first (infinity without a timeout).
      const double silent = run_.next_silence_s();
      // x is constant between arrivals and retirements: evaluations due before the next one see the
      // current x.
      const double due = run_.next_eval_s();
      if (due <= next && due <= silent && due <= budget) {
        t = due;
        run_.evaluate(t);
        continue;
      }
      if (silent < next && silent <= budget) {
        t = silent;
        if (const Outcome* outcome = run_.retire_silent(t)) deliver(*outcome, t);
        continue;
      }
      // Nothing before the budget (an empty queue runs the clock to it through the evaluations): the
      // time budget stop rule fires next.
      if (next > budget) {
        t = budget;
        continue;
      }
      t = next;
      if (serves <= completes) {
        serve(t);
      } else {
        const int id = queue_.next_worker();
        queue_.pop();
        complete(id, t);
        if (server_free_s_ <= t) serve(t);
      }
      run_.progress(t);
    }
    run_.stop(t);
    // Busy time is counted when a service starts: the part of the last one past t is not.
    const double busy = server_busy_s_ - std::max(server_free_s_ - t, 0.0);
    return run_.finish(t, reason, busy / std::max(t - run_.start_time_s(), 1e-9), compute_s_,
                       update_s_ > 0.0 ? std::optional<double>(update_s_) : std::nullopt);
  }

 private:
  SimWorker& worker(int w) { return workers_[static_cast<std::size_t>(w - 1)]; }
  WorkerModel& model(int w) { return models_[static_cast<std::size_t>(w - 1)]; }
  WorkerTimes& times(int w) { return run_.times()[static_cast<std::size_t>(w - 1)]; }

  // Worker `id`'s computation completes at t: its message joins the server's queue.
  void complete(int id, double t) {
    SimWorker& w = worker(id);
    w.computing = false;
    waiting_.push_back({id, t, w.version, w.injected_s});
  }

  // The server takes the oldest waiting message at t: its gradient is computed at the x its worker was
  // handed and delivered — unless fault injection spoils it (docs/method.md §4 "Faults"), as the MPI
  // worker does. While it waited, its worker may have been interrupted and handed a newer point (the
  // Server then calls it superseded) or retired (dropped, as the MPI server drops a late gradient).
  void serve(double t) {
    const Arrival a = waiting_.front();
    waiting_.pop_front();
    const int id = a.worker;
    if (server_.retired(id)) {
      snapshots_.release(a.version);
      return;
    }
    // The sample first: it does not need x, so it is drawn while an LMO that x_version still waits
    // for may be running on another thread (deferred updates).
    objective_.draw_sample(gradient_, model(id).samples());
    const double loss = objective_.gradient_at_sample(snapshots_.at(a.version, server_), gradient_);
    snapshots_.release(a.version);
    switch (model(id).next_fault()) {
      case Fault::none: break;
      case Fault::nan: std::fill(gradient_.begin(), gradient_.end(), std::nanf("")); break;
      case Fault::truncate:
      case Fault::oversize:
        // A message of the wrong length: the server cannot read it, not even its times.
        times(id).busy_s += compute_s_;
        times(id).injected_s += a.injected_s;
        deliver(run_.on_malformed(t, id), t);
        return;
      case Fault::hang:
        spdlog::warn("fault injection: worker {} hangs (delivers nothing more)", id);
        times(id).busy_s += compute_s_;
        times(id).injected_s += a.injected_s;
        worker(id).hung = true;
        // Handed a newer point while this message waited: that computation never delivers either.
        if (worker(id).computing) {
          abandon(id, t);
          queue_.cancel(id);
        }
        return;
    }
    deliver(run_.on_gradient(t, id, a.version, gradient_, loss, compute_s_, a.injected_s), t);
  }

  // The Server decided `outcome` at t. An update keeps the server busy for update_s_ from when it is
  // free (a silent worker's retirement may come while it is busy); the points leave when it is done.
  void deliver(const Outcome& outcome, double t) {
    const double begins = std::max(t, server_free_s_);
    const double ends = begins + (outcome.updated ? update_s_ : 0.0);
    server_busy_s_ += ends - begins;
    server_free_s_ = ends;
    launch(outcome, t, ends);
  }

  // Carries out an outcome decided at t whose points leave at `leaves` (≥ t): interrupted and retired
  // workers abandon their computations at t (what they would compute until their new point reaches
  // them is lost either way); every worker in the assign list starts one at the current (x, k) when its
  // point leaves. An interrupted worker is in the assign list too (server.hpp, Outcome): its new
  // completion takes the place of the abandoned one in the queue.
  void launch(const Outcome& outcome, double t, double leaves) {
    for (const Interrupt& i : outcome.interrupted) {
      if (!worker(i.worker).computing) continue;  // hung: nothing to abandon, and no acknowledgement
      abandon(i.worker, t);
      run_.heard(i.worker, t);  // it acknowledges the interrupt at once
    }
    for (int id : outcome.retired) {
      if (!worker(id).computing) continue;
      abandon(id, t);
      queue_.cancel(id);
    }
    for (int id : outcome.assign) {
      SimWorker& w = worker(id);
      if (w.hung) continue;
      w.version = server_.version(id);
      snapshots_.hold(w.version, server_);
      // Drawn at the start of every computation, as the MPI worker does, so both engines see the same
      // sequence of delays per worker.
      w.injected_s = model(id).next_delay(compute_s_);
      w.started_s = leaves;
      w.computing = true;
      queue_.schedule(id, leaves + compute_s_ + w.injected_s);
    }
  }

  // Worker `id` abandons its computation at t: the part of its compute and of its delay that elapsed
  // is counted (compute first, then the delay, as a worker runs them); none if its point has not
  // reached it yet (a silent worker retired while the server was busy).
  void abandon(int id, double t) {
    SimWorker& w = worker(id);
    const double elapsed = std::max(t - w.started_s, 0.0);
    const double computed = std::min(elapsed, compute_s_);
    times(id).busy_s += computed;
    times(id).injected_s += elapsed - computed;
    snapshots_.release(w.version);
    w.computing = false;
  }

  const Config& config_;
  Objective& objective_;
  double compute_s_;              // virtual seconds per gradient computation (docs/method.md §7)
  double update_s_;               // virtual seconds the server spends per update (§7); 0: instantaneous
  double server_free_s_ = 0.0;    // virtual time the server's current update ends
  double server_busy_s_ = 0.0;    // virtual seconds of updates begun
  std::deque<Arrival> waiting_;   // messages waiting for the server, in the order they completed
  Snapshots snapshots_;           // before run_: the pipelined executor reports to it
  std::vector<float> gradient_;   // (layout.size) the arriving gradient
  Run run_;
  Server& server_;
  std::vector<WorkerModel> models_;  // worker i at i − 1
  std::vector<SimWorker> workers_;   // worker i at i − 1
  CompletionQueue queue_;
};

// The mean seconds of `call` on the clock `now`, after a warm-up (caches, page faults, lazy
// allocations), over at least kTimed calls and ~kTarget seconds of that clock: what "measure" means for
// heterogeneity.compute_s and server_update_s (docs/method.md §7).
template <class Call>
double mean_seconds(Call call, double (*now)()) {
  constexpr int kWarmUp = 3, kTimed = 10;
  constexpr double kTarget = 0.5;
  for (int i = 0; i < kWarmUp; ++i) call();
  const double begin = now();
  double elapsed = 0.0;
  int calls = 0;
  while (calls < kTimed || elapsed < kTarget) {
    call();
    ++calls;
    elapsed = now() - begin;
  }
  return elapsed / calls;
}

// heterogeneity.compute_s = "measure": a stochastic gradient at x0, drawn from a sample stream of its
// own (worker 0, which no worker uses).
double measure_compute_s(const Config& config, Objective& objective) {
  std::vector<float> x(objective.layout().size()), g(objective.layout().size());
  objective.initial_point(x);
  SampleStream samples(config.run.seed, 0, 0, objective.training_examples());
  const double seconds = mean_seconds([&] { objective.stochastic_gradient(x, g, samples); }, steady_seconds);
  spdlog::info("heterogeneity.compute_s = \"measure\": a stochastic gradient takes {:.6g} s; each one costs that "
               "much virtual time",
               seconds);
  return seconds;
}

// heterogeneity.server_update_s = "measure": one update of the run's method — its handling of the
// arrivals that make one (momentum, LMO, step on one BLAS thread, as the simulator runs them) — and one
// copy of x (the point the MPI server copies into a worker's message), on a Server of its own with one
// worker whose gradients, all one standard normal vector, are never stale. Timed in this thread's
// CPU seconds: what an update costs a server with a core of its own, however busy the machine is while
// it is measured (on the wall clock, a second process on the core doubled it: docs/benchmarks.md).
// With shards, each shard's update on its own blocks (its slices of x0 and g) is timed; the slowest is
// the charge.
double measure_update_s(const Config& config, const ParamLayout& layout, std::span<const float> x0,
                        std::span<const float> g) {
  constexpr int kMaxArrivalsPerUpdate = 1000000;
  std::vector<float> point(layout.size());
  Server server(config, layout, x0, 1);
  server.start();
  const double seconds = mean_seconds([&] {
    const std::int64_t k = server.k();
    for (int arrivals = 0; server.k() == k; ++arrivals) {
      if (arrivals == kMaxArrivalsPerUpdate)
        throw Error("heterogeneity.server_update_s = \"measure\": run.method = \"" + config.run.method +
                    "\" made no update from " + std::to_string(arrivals) +
                    " fresh gradients of one worker; give server_update_s in seconds");
      server.on_gradient(1, server.version(1), g);
    }
    std::copy(server.x().begin(), server.x().end(), point.begin());
  }, thread_cpu_seconds);
  return seconds;
}

double measure_server_update_s(const Config& config, Objective& objective, const ShardPlan& plan) {
  const std::size_t size = objective.layout().size();
  std::vector<float> x0(size), g(size);
  objective.initial_point(x0);
  // A standard normal "gradient", not one at x0: a network whose output projections start at zero has a
  // zero gradient in most blocks there, whose LMO returns at once (lmo(0) = 0), and gpt_tiny's update
  // measured 0.06 ms that way against 2.4 ms on real gradients. An update's time does not depend on
  // the values otherwise.
  Rng(config.run.seed, Stream::gradient_noise, 0).fill_normal(g, 1.0f);
  // One shard: its layout is the whole model's and its slices the whole buffers.
  double slowest = 0.0;
  std::string each;
  for (int s = 0; s < plan.shards(); ++s) {
    const double seconds = measure_update_s(config, plan.layout(s), plan.slice(std::span<const float>(x0), s),
                                            plan.slice(std::span<const float>(g), s));
    slowest = std::max(slowest, seconds);
    each += (s > 0 ? ", " : "") + fmt::format("{:.6g}", seconds);
  }
  if (plan.shards() == 1)
    spdlog::info("heterogeneity.server_update_s = \"measure\": an update takes the server {:.6g} s; each one keeps "
                 "it busy that much virtual time",
                 slowest);
  else
    spdlog::info("heterogeneity.server_update_s = \"measure\": an update takes the {} shards {} s; each one keeps "
                 "the server busy {:.6g} s of virtual time (the slowest)",
                 plan.shards(), each, slowest);
  return slowest;
}

// What one update keeps the server busy (docs/method.md §7): heterogeneity.server_update_s as given or
// measured; given in seconds with shards, the slowest shard's share of it.
double server_update_s(const Config& config, Objective& objective, const ShardPlan& plan) {
  const HeterogeneityConfig& h = config.heterogeneity;
  if (h.measure_server_update) return measure_server_update_s(config, objective, plan);
  if (plan.shards() == 1 || h.server_update_s == 0.0) return h.server_update_s;
  const double charge = h.server_update_s * plan.max_share();
  spdlog::info("server.shards = {}: an update of heterogeneity.server_update_s = {:.6g} s takes the slowest shard "
               "{:.4f} of it: {:.6g} s",
               plan.shards(), h.server_update_s, plan.max_share(), charge);
  return charge;
}

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
  install_stop_signals();
  // The simulator's own limits (virtual time must advance) are checked by load_config, which knows where
  // each value came from.
  const Config config = load_config(request.config_path, request.overrides, 0, ConfigFor::simulator);
  std::unique_ptr<Objective> objective;
  try {
    objective = make_objective(config);
  } catch (const std::bad_alloc&) {
    throw out_of_memory(config);
  }
  std::optional<RunDir> run_dir;
  std::unique_ptr<Checkpoint> resume;
  if (!request.resume.empty()) {
    Resumed resumed = open_resumed(request.resume, config, config.run.workers, *objective, ConfigFor::simulator);
    if (resumed.finished) {
      spdlog::info("{}", *resumed.finished);
      return kExitOk;
    }
    run_dir.emplace(std::move(resumed.dir));
    resume = std::make_unique<Checkpoint>(std::move(resumed.checkpoint));
  }
  // Every LMO runs on one BLAS thread, however many lanes run them side by side (UpdatePipeline): then
  // results do not depend on sim.threads, and lanes do not fight BLAS's own threads for the cores.
  openblas_set_num_threads(1);
  // The virtual seconds charged per gradient and per update (docs/method.md §7), measured if they say so.
  const HeterogeneityConfig& h = config.heterogeneity;
  const double compute_s = h.measure_compute ? measure_compute_s(config, *objective) : h.compute_s;
  // Shards own whole blocks: too many for the model is an error here, before the run directory.
  const ShardPlan plan(objective->layout(), config.lmo.options(), config.server.shards);
  if (plan.shards() > 1) spdlog::info("server.shards = {}: blocks {}", plan.shards(), plan.describe());
  const double update_s = server_update_s(config, *objective, plan);
  // Everything is validated: only now is a new run directory made (locked, with its run id); if writing
  // its first files fails, RunDir removes it again.
  if (!run_dir) run_dir.emplace(RunDir::create(config, request.out, request.force, request.name));
  Recorder recorder(*run_dir, config, "sim", config.run.workers, EvalColumns::of(*objective),
                    resume ? &resume->recorder : nullptr);
  record_provenance(run_dir->path(), invocation(request, "sim", config.run.workers, 1, {this_host()}), config,
                    resume != nullptr);
  run_dir->started();
  spdlog::info("simulating {} with {} workers on {} ({} LMO threads); run directory {}", config.run.method,
               config.run.workers, config.objective.kind, lanes(config), shown_path(recorder.dir()));
  std::optional<SimLoop> loop;
  try {
    loop.emplace(config, *objective, recorder, resume.get(), compute_s, update_s,
                 resume_command(request, run_dir->path(), 0));
  } catch (const std::bad_alloc&) {
    throw out_of_memory(config);
  }
  return loop->run();
}

}  // namespace ringmaster
