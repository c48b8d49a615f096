// Rank 0: the Ringmaster server over MPI (SPEC §1, §2, §4, §7). A receive is posted for every worker
// at all times; completed receives are served in the order the gradients were sent, so no rank is
// favoured; each waiting moment sleeps instead of spinning. Checkpoints are written periodically and
// at every stop; a signal on any rank stops the whole job cleanly after one.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster::mpi {
namespace {

// Polling period of the server: starts short after activity and backs off while idle, up to a tenth
// of the mean time between arrivals (so polling adds ~5% of an inter-arrival time of latency, and its
// wake-ups scale with the traffic), within [50 µs, 2 ms] (500 wake-ups a second at most when idle).
constexpr double kMinPollS = 20e-6;
constexpr double kMaxPollS = 2e-3;
constexpr double kMinPollCapS = 50e-6;
// How long stopped workers get to answer before the job is aborted as hung.
constexpr double kShutdownDeadlineS = 10.0;

class ServerLoop {
 public:
  ServerLoop(const Config& config, Objective& objective, Recorder& recorder, int workers, const Checkpoint* resume)
      : config_(config),
        objective_(objective),
        recorder_(recorder),
        workers_(workers),
        resume_(resume),
        backoff_(kMinPollS, kMaxPollS) {
    std::vector<float> x0(objective.layout().size());
    objective_.initial_point(x0);
    server_ = std::make_unique<Server>(config_, objective_.layout(), x0, workers_);
    const std::size_t floats = objective_.layout().size();
    for (int w = 0; w < workers_; ++w) {
      received_.emplace_back(floats);
      outgoing_.emplace_back(floats);
    }
    receive_requests_.assign(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    send_requests_.assign(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    clock_offset_.assign(static_cast<std::size_t>(workers_), 0.0);
    last_heard_.assign(static_cast<std::size_t>(workers_), 0.0);
    times_.assign(static_cast<std::size_t>(workers_), {});
    completed_.resize(static_cast<std::size_t>(workers_));
    statuses_.resize(static_cast<std::size_t>(workers_));
    if (resume_) {
      server_->restore(resume_->k, resume_->x, resume_->m, resume_->counters, resume_->method);
      times_ = resume_->times;
      epoch_ = resume_->epoch + 1;
      clock_offset_s_ = resume_->train_time_s;
      earlier_wall_s_ = resume_->wall_time_s;
      recorder_.restore(resume_->recorder, resume_->train_time_s);
    }
  }

  int run() {
    estimate_clock_offsets();
    start_wall_ = MPI_Wtime();
    last_arrival_ = start_wall_;
    last_checkpoint_ = start_wall_;
    std::fill(last_heard_.begin(), last_heard_.end(), start_wall_);
    if (resume_)
      spdlog::info("resuming at k={} and t={:.2f}s (epoch {})", server_->k(), now(), epoch_);
    evaluate();  // f(x0), at training time 0 (or the resumed point)
    for (int w = 1; w <= workers_; ++w) post_receive(w);
    check(MPI_Irecv(&signal_from_worker_, 1, MPI_INT, MPI_ANY_SOURCE, kTagSignal, MPI_COMM_WORLD, &signal_request_),
          "MPI_Irecv");
    send_points(server_->start());
    std::string reason;
    while ((reason = recorder_.stop_reason(now(), *server_)).empty()) {
      if (signalled()) {
        reason = "signal";
        break;
      }
      if (now() >= recorder_.next_eval_s()) evaluate();
      if (config_.checkpoint.every_s > 0.0 && MPI_Wtime() - last_checkpoint_ >= config_.checkpoint.every_s)
        checkpoint();
      recorder_.progress(MPI_Wtime() - start_wall_, now(), *server_);
      retire_silent_workers();
      if (!serve_completed()) backoff_.sleep();
    }
    const double train_time = now();
    evaluate_at(train_time);  // final_loss is evaluated on the final parameters (SPEC §8)
    const bool by_signal = reason == "signal";
    shutdown(by_signal ? kStopSignal : kStopDone);
    checkpoint_at(train_time);
    RunTotals totals;
    totals.wall_time_s = earlier_wall_s_ + (MPI_Wtime() - start_wall_);
    totals.train_time_s = train_time;
    totals.server_busy_fraction = busy_s_ / std::max(train_time - clock_offset_s_, 1e-9);
    totals.eval_time_s = eval_s_;
    totals.stop_reason = reason;
    totals.epoch = epoch_;
    recorder_.finish(*server_, times_, totals);
    spdlog::info("stopped ({}) at t={:.2f}s after {} updates; run directory {}", reason, train_time, server_->k(),
                 recorder_.dir().string());
    if (by_signal)
      spdlog::info("checkpoint written; continue with: ringmaster train --resume {}", recorder_.dir().string());
    return by_signal ? kExitStopped : kExitOk;
  }

 private:
  std::size_t at(int worker) const { return static_cast<std::size_t>(worker - 1); }

  // Training clock: wall seconds since the start, less the time spent evaluating and checkpointing
  // (SPEC §7), plus the training time of earlier epochs of a resumed run.
  double now() const { return clock_offset_s_ + MPI_Wtime() - start_wall_ - eval_s_; }

  // A signal on this rank, or a worker reporting one on its own.
  bool signalled() {
    if (stop_signal() != 0) {
      spdlog::warn("signal {} received: checkpointing and stopping", stop_signal());
      return true;
    }
    int done = 0;
    check(MPI_Test(&signal_request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) spdlog::warn("a worker received signal {}: checkpointing and stopping", signal_from_worker_);
    return done != 0;
  }

  void evaluate() { evaluate_at(now()); }
  void evaluate_at(double t) {
    const double begin = MPI_Wtime();
    recorder_.evaluate(t, *server_, objective_);
    eval_s_ += MPI_Wtime() - begin;
  }

  void checkpoint() {
    const double begin = MPI_Wtime();
    checkpoint_at(now());
    eval_s_ += MPI_Wtime() - begin;  // not charged to the training clock either
    last_checkpoint_ = MPI_Wtime();
  }

  void checkpoint_at(double train_time) {
    Checkpoint c;
    c.run_id = recorder_.run_id();
    c.config_hash = config_hash(config_);
    c.workers = workers_;
    c.epoch = epoch_;
    c.k = server_->k();
    c.train_time_s = train_time;
    c.wall_time_s = earlier_wall_s_ + (MPI_Wtime() - start_wall_);
    c.x.assign(server_->x().begin(), server_->x().end());
    c.m.assign(server_->momentum().begin(), server_->momentum().end());
    c.method = server_->method().state();
    for (int w = 1; w <= workers_; ++w) c.counters.push_back(server_->counters(w));
    c.times = times_;
    c.recorder = recorder_.checkpoint();  // flushes the CSV files first: c records their sizes
    write_checkpoint(recorder_.dir() / kCheckpointFile, c);
  }

  // Each worker's MPI_Wtime differs from ours by an offset (other nodes, other clocks): measure it by
  // a ping-pong, offset = midpoint of our send/receive times − the worker's time.
  void estimate_clock_offsets() {
    for (int w = 1; w <= workers_; ++w) {
      double ping = MPI_Wtime(), their_time = 0.0;
      MPI_Request request;
      check(MPI_Isend(&ping, 1, MPI_DOUBLE, w, kTagClock, MPI_COMM_WORLD, &request), "MPI_Isend");
      wait(request, nullptr, backoff_);
      check(MPI_Irecv(&their_time, 1, MPI_DOUBLE, w, kTagClock, MPI_COMM_WORLD, &request), "MPI_Irecv");
      wait(request, nullptr, backoff_);
      clock_offset_[at(w)] = 0.5 * (ping + MPI_Wtime()) - their_time;
    }
  }

  void post_receive(int worker) {
    GradientMessage& m = received_[at(worker)];
    check(MPI_Irecv(m.data(), m.bytes(), MPI_BYTE, worker, kTagGradient, MPI_COMM_WORLD,
                    &receive_requests_[at(worker)]),
          "MPI_Irecv");
  }

  // Sends the current (x, k), or a stop, to `worker`. Its previous message has normally long been
  // delivered; if not, wait for it without spinning (the buffer is reused, never reallocated).
  void send_point(int worker, Command command, StopReason reason = kStopDone) {
    MPI_Request& request = send_requests_[at(worker)];
    if (request != MPI_REQUEST_NULL) wait(request, nullptr, backoff_);
    PointMessage& m = outgoing_[at(worker)];
    m.set_header({server_->k(), command, reason});
    if (command == kCommandWork) last_heard_[at(worker)] = MPI_Wtime();  // it owes a gradient from now on
    int bytes = static_cast<int>(sizeof(PointHeader));
    if (command == kCommandWork) {
      std::copy(server_->x().begin(), server_->x().end(), m.payload().begin());
      bytes = m.bytes();
    }
    check(MPI_Isend(m.data(), bytes, MPI_BYTE, worker, kTagPoint, MPI_COMM_WORLD, &request), "MPI_Isend");
  }

  void send_points(const Outcome& outcome) {
    for (int worker : outcome.assign) send_point(worker, kCommandWork);
    for (int worker : outcome.retired) {
      spdlog::warn("worker {} (rank {}) retired after {} bad gradients in a row; training goes on with {} workers",
                   worker, worker, server_->bad_in_a_row(worker), server_->active_workers());
      send_point(worker, kCommandStop, kStopRetired);
    }
  }

  // Serves every gradient that has arrived, oldest send first. Returns false when none had.
  bool serve_completed() {
    int count = 0;
    check(MPI_Testsome(workers_, receive_requests_.data(), &count, completed_.data(), statuses_.data()),
          "MPI_Testsome");
    if (count == 0 || count == MPI_UNDEFINED) return false;
    const double begin = MPI_Wtime();
    for (int i = 0; i < count; ++i) order_[static_cast<std::size_t>(i)] = i;
    // Testsome reports completions in index order; serve them in send order instead (corrected to
    // our clock), so that low ranks are not favoured when several arrive between two polls.
    std::sort(order_.begin(), order_.begin() + count, [&](int a, int b) {
      return sent_at(completed_[static_cast<std::size_t>(a)] + 1) < sent_at(completed_[static_cast<std::size_t>(b)] + 1);
    });
    for (int i = 0; i < count; ++i) {
      const auto slot = static_cast<std::size_t>(order_[static_cast<std::size_t>(i)]);
      serve(completed_[slot] + 1, statuses_[slot]);
    }
    busy_s_ += MPI_Wtime() - begin;
    // Mean time between arrivals (exponentially weighted over the last ~20 batches) sets the poll cap.
    const double interval = (begin - last_arrival_) / count;
    last_arrival_ = begin;
    mean_interval_ = mean_interval_ > 0.0 ? 0.95 * mean_interval_ + 0.05 * interval : interval;
    backoff_.set_max(std::clamp(0.1 * mean_interval_, kMinPollCapS, kMaxPollS));
    backoff_.reset();
    return true;
  }

  double sent_at(int worker) const { return received_[at(worker)].header().sent_at + clock_offset_[at(worker)]; }

  void serve(int worker, const MPI_Status& status) {
    last_heard_[at(worker)] = MPI_Wtime();
    // A worker retired for silence that was only slow: its late gradient lands (so its send completes)
    // and is dropped; its stop is already on the way.
    if (server_->retired(worker)) return;
    const GradientMessage& m = received_[at(worker)];
    int bytes = 0;
    MPI_Get_count(&status, MPI_BYTE, &bytes);
    const Outcome* outcome = nullptr;
    GradientHeader h{};
    if (bytes != m.bytes()) {
      // Truncated or oversized: nothing in it can be trusted, not even the header.
      spdlog::error("rank {} sent a gradient message of {} bytes, expected {}: rejected", worker, bytes, m.bytes());
      h.version = server_->version(worker);
      outcome = &server_->on_malformed(worker);
    } else {
      h = m.header();
      times_[at(worker)].busy_s += h.compute_s;
      times_[at(worker)].injected_s += h.injected_s;
      outcome = &server_->on_gradient(worker, h.version, m.payload());
      if (outcome->action == Action::rejected)
        spdlog::error("rank {} sent a gradient with NaN or Inf entries: rejected, parameters untouched", worker);
    }
    recorder_.arrival(now(), *server_, worker, h.version, *outcome, h.loss, h.compute_s, h.injected_s);
    send_points(*outcome);
    if (!server_->retired(worker)) post_receive(worker);  // only now: the gradient buffer has been consumed
  }

  // sync and rennala wait for particular workers: one that stays silent beyond fault.worker_timeout_s
  // after it was handed a point (or last heard from) is treated as gone (logged), and the round goes on
  // without it. The asynchronous methods never wait for any one worker, so they need no timeout.
  void retire_silent_workers() {
    const double timeout = config_.fault.worker_timeout_s;
    if (timeout <= 0.0) return;
    const double wall = MPI_Wtime();
    for (int w = 1; w <= workers_; ++w) {
      if (server_->retired(w) || !server_->computing(w) || wall - last_heard_[at(w)] < timeout) continue;
      spdlog::warn("worker {} (rank {}) silent for {:.1f} s (fault.worker_timeout_s = {}): treated as gone", w, w,
                   wall - last_heard_[at(w)], timeout);
      const Outcome& outcome = server_->retire(w);
      send_points(outcome);
    }
  }

  // Stops every worker, lets gradients already in flight land (so no send is left hanging), collects
  // each worker's time totals, and cancels the receives nobody will match. A worker that does not
  // answer within the deadline (a hung process) aborts the job.
  void shutdown(StopReason reason) {
    std::vector<StatsMessage> stats(static_cast<std::size_t>(workers_));
    std::vector<MPI_Request> stats_requests(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    int pending = 0;
    for (int w = 1; w <= workers_; ++w) {
      check(MPI_Irecv(&stats[at(w)], sizeof(StatsMessage), MPI_BYTE, w, kTagStats, MPI_COMM_WORLD,
                      &stats_requests[at(w)]),
            "MPI_Irecv");
      ++pending;
      if (!server_->retired(w)) send_point(w, kCommandStop, reason);  // retired ones had theirs
    }
    const double deadline = MPI_Wtime() + kShutdownDeadlineS;
    backoff_.reset();
    while (pending > 0) {
      int landed = 0, count = 0;
      // Gradients still in flight complete here and are dropped: the run is over.
      check(MPI_Testsome(workers_, receive_requests_.data(), &landed, completed_.data(), statuses_.data()),
            "MPI_Testsome");
      check(MPI_Testsome(workers_, stats_requests.data(), &count, completed_.data(), statuses_.data()),
            "MPI_Testsome");
      if (count != MPI_UNDEFINED) pending -= count;
      if (pending == 0) break;
      if (MPI_Wtime() > deadline) {
        spdlog::error("{} worker(s) did not answer the stop within {:.0f} s; aborting the job", pending,
                      kShutdownDeadlineS);
        checkpoint_at(now());  // what was learned is kept: --resume continues from here
        MPI_Abort(MPI_COMM_WORLD, kExitRuntime);
      }
      backoff_.sleep();
    }
    for (MPI_Request& r : receive_requests_) cancel(r);
    cancel(signal_request_);
    for (MPI_Request& r : send_requests_)
      if (r != MPI_REQUEST_NULL) wait(r, nullptr, backoff_);
    // The workers' totals include abandoned work, which their gradient messages could not report.
    for (int w = 1; w <= workers_; ++w) {
      times_[at(w)].busy_s = (resume_ ? resume_->times[at(w)].busy_s : 0.0) + stats[at(w)].busy_s;
      times_[at(w)].injected_s = (resume_ ? resume_->times[at(w)].injected_s : 0.0) + stats[at(w)].injected_s;
    }
  }

  void cancel(MPI_Request& r) {
    if (r == MPI_REQUEST_NULL) return;
    check(MPI_Cancel(&r), "MPI_Cancel");
    wait(r, nullptr, backoff_);
  }

  const Config& config_;
  Objective& objective_;
  Recorder& recorder_;
  int workers_;
  const Checkpoint* resume_;
  std::unique_ptr<Server> server_;
  std::vector<GradientMessage> received_;    // per worker: its posted gradient receive
  std::vector<PointMessage> outgoing_;       // per worker: the last point sent to it
  std::vector<MPI_Request> receive_requests_, send_requests_;
  MPI_Request signal_request_ = MPI_REQUEST_NULL;
  int signal_from_worker_ = 0;
  std::vector<double> clock_offset_;         // per worker: our clock − theirs
  std::vector<double> last_heard_;           // per worker: MPI_Wtime of its last message or new point
  // Per worker, busy and injected seconds. During the run: the sum over the gradients that arrived (all
  // a periodic checkpoint can know); at shutdown, replaced by each worker's own totals, which also count
  // the work it abandoned (StatsMessage).
  std::vector<WorkerTimes> times_;
  std::vector<int> completed_;               // Testsome scratch
  std::vector<int> order_ = std::vector<int>(static_cast<std::size_t>(workers_));
  std::vector<MPI_Status> statuses_;
  Backoff backoff_;
  std::uint32_t epoch_ = 0;
  double clock_offset_s_ = 0.0;  // training time of earlier epochs
  double earlier_wall_s_ = 0.0;  // wall time of earlier epochs
  double start_wall_ = 0.0;
  double eval_s_ = 0.0;  // wall seconds spent evaluating and checkpointing (not charged to training)
  double busy_s_ = 0.0;  // wall seconds spent serving arrivals
  double last_arrival_ = 0.0;    // MPI_Wtime of the last served batch
  double mean_interval_ = 0.0;   // smoothed seconds between arrivals
  double last_checkpoint_ = 0.0;
};

}  // namespace

int serve(const Config& config, Objective& objective, Recorder& recorder, int workers, const Checkpoint* resume) {
  return ServerLoop(config, objective, recorder, workers, resume).run();
}

}  // namespace ringmaster::mpi
