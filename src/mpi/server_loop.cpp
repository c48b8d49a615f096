// Rank 0: the Ringmaster server over MPI (docs/method.md §1, §2, §4, §7). A receive is posted for every worker
// at all times; completed receives are served in the order the gradients were sent, so no rank is
// favoured; each waiting moment sleeps instead of spinning. No send to one worker is ever waited for
// while the others are served: a point for a worker whose previous one is still on the wire (a stopped
// or hung process) is staged behind it. The full loss is evaluated on a snapshot of x by an evaluator
// thread while serving goes on (docs/method.md §7). Checkpoints are written periodically and at every
// stop; a signal on any rank stops the whole job cleanly after one.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/evaluator.hpp"
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
// How long a worker gets to answer the clock handshake at start (every rank has passed MPI_Init and
// read its configuration by then: only a stopped or hung process takes this long).
constexpr double kStartDeadlineS = 120.0;

// Points on their way to one worker: the one on the wire and, while that one has not been delivered,
// the newest one waiting behind it. A point above the eager limit is only delivered once the worker
// posts its receive, which a stopped, swapped-out or hung process never does: waiting for it would
// freeze service to every other worker, signals and checkpoints included.
struct Outbox {
  explicit Outbox(std::size_t floats) : sending(floats), staged(floats) {}
  PointMessage sending;                   // on the wire while `request` is pending
  PointMessage staged;                    // the newest point not yet sent, when `has_staged`
  MPI_Request request = MPI_REQUEST_NULL;
  bool has_staged = false;
};

class ServerLoop {
 public:
  ServerLoop(MPI_Comm comm, const Config& config, Objective& objective, Recorder& recorder, int workers,
             const Checkpoint* resume)
      : comm_(comm),
        config_(config),
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
      outboxes_.emplace_back(floats);
    }
    receive_requests_.assign(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
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
    // From here on rank 0's objective belongs to the evaluator thread (docs/method.md §7).
    evaluator_ = std::make_unique<Evaluator>(objective_, config_.lmo.options());
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
    check(MPI_Irecv(&signal_from_worker_, 1, MPI_INT, MPI_ANY_SOURCE, kTagSignal, comm_, &signal_request_),
          "MPI_Irecv");
    post_ack_receive();
    send_points(server_->start());
    std::string reason;
    while ((reason = recorder_.stop_reason(now(), *server_)).empty()) {
      if (signalled()) {
        reason = "signal";
        break;
      }
      collect_evaluations();  // a stop rule on the loss (target, divergence) acts when its result lands
      if (now() >= recorder_.next_eval_s()) evaluate();
      if (config_.checkpoint.every_s > 0.0 && MPI_Wtime() - last_checkpoint_ >= config_.checkpoint.every_s)
        checkpoint();
      recorder_.progress(MPI_Wtime() - start_wall_, now(), *server_);
      post_staged();
      hear_acks();
      retire_silent_workers();
      if (!serve_completed()) backoff_.sleep();
    }
    const double train_time = now();
    const bool by_signal = reason == "signal";
    shutdown(by_signal ? kStopSignal : kStopDone);
    // Evaluations still in flight land first, then final_loss on the final parameters (docs/method.md §8).
    for (const EvalResult& r : evaluator_->drain()) recorder_.record_evaluation(r);
    recorder_.record_evaluation(
        evaluator_->evaluate_now(recorder_.begin_evaluation(train_time, server_->k()), server_->x()));
    checkpoint_at(train_time);
    RunTotals totals;
    totals.wall_time_s = earlier_wall_s_ + (MPI_Wtime() - start_wall_);
    totals.train_time_s = train_time;
    totals.server_busy_fraction = busy_s_ / std::max(train_time - clock_offset_s_, 1e-9);
    totals.eval_time_s = evaluator_->busy_s();
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

  // Training clock: wall seconds since the start, less the time spent checkpointing (docs/method.md §7),
  // plus the training time of earlier epochs of a resumed run. Evaluations run beside serving, so
  // their time is training time.
  double now() const { return clock_offset_s_ + MPI_Wtime() - start_wall_ - paused_s_; }

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

  // A snapshot of x goes to the evaluator thread; the server goes back to serving (docs/method.md §7).
  void evaluate() { evaluator_->submit(recorder_.begin_evaluation(now(), server_->k()), server_->x()); }
  void collect_evaluations() {
    for (const EvalResult& r : evaluator_->poll()) recorder_.record_evaluation(r);
  }

  void checkpoint() {
    const double begin = MPI_Wtime();
    checkpoint_at(now());
    paused_s_ += MPI_Wtime() - begin;  // the server serves no one meanwhile: not charged to the training clock
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
    const double deadline = MPI_Wtime() + kStartDeadlineS;
    for (int w = 1; w <= workers_; ++w) {
      double ping = MPI_Wtime(), their_time = 0.0;
      MPI_Request send = MPI_REQUEST_NULL, receive = MPI_REQUEST_NULL;
      check(MPI_Isend(&ping, 1, MPI_DOUBLE, w, kTagClock, comm_, &send), "MPI_Isend");
      check(MPI_Irecv(&their_time, 1, MPI_DOUBLE, w, kTagClock, comm_, &receive), "MPI_Irecv");
      if (!wait_until(send, deadline, backoff_) || !wait_until(receive, deadline, backoff_))
        throw Error("rank " + std::to_string(w) + " did not answer the start-up handshake within " +
                    std::to_string(static_cast<int>(kStartDeadlineS)) + " s (stopped or hung?)");
      clock_offset_[at(w)] = 0.5 * (ping + MPI_Wtime()) - their_time;
    }
  }

  // Sends the current (x, k), or a stop, to `worker`, never waiting for it. If its previous point is
  // still on the wire, this one is staged behind it (post_staged sends it once that one is delivered),
  // replacing any point staged before: only the newest matters, it is the version the Server recorded
  // for the worker (a gradient computed at an older one is superseded), and the worker would abandon
  // an older point for it at once anyway (docs/method.md §4). x is copied now: it is the point of version k.
  // `fresh`: the worker owed nothing before this point (not an interrupt), so its silence is timed from
  // now (retire_silent_workers).
  void send_point(int worker, Command command, StopReason reason, bool fresh) {
    Outbox& box = outboxes_[at(worker)];
    const bool on_the_wire = !delivered(box);
    PointMessage& m = on_the_wire ? box.staged : box.sending;
    m.set_header({server_->k(), command, reason});
    if (command == kCommandWork) {
      std::copy(server_->x().begin(), server_->x().end(), m.payload().begin());
      if (fresh) last_heard_[at(worker)] = MPI_Wtime();
    }
    if (!on_the_wire) {
      post(box, worker);
    } else if (!box.has_staged) {
      box.has_staged = true;
      ++staged_;
    }
  }

  // True when nothing is on the wire to this worker (tests its send: never waits).
  static bool delivered(Outbox& box) {
    if (box.request == MPI_REQUEST_NULL) return true;
    int done = 0;
    check(MPI_Test(&box.request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }

  void post(Outbox& box, int worker) {
    const int units = box.sending.header().command == kCommandWork ? box.sending.units() : 1;  // a stop: header only
    check(MPI_Isend(box.sending.data(), units, unit_type(), worker, kTagPoint, comm_, &box.request), "MPI_Isend");
  }

  // Sends every staged point whose predecessor has been delivered.
  void post_staged() {
    if (staged_ == 0) return;
    for (int w = 1; w <= workers_; ++w) {
      Outbox& box = outboxes_[at(w)];
      if (!box.has_staged || !delivered(box)) continue;
      std::swap(box.sending, box.staged);
      box.has_staged = false;
      --staged_;
      post(box, w);
    }
  }

  void send_points(const Outcome& outcome) {
    for (int worker : outcome.assign) {
      const bool interrupted = std::any_of(outcome.interrupted.begin(), outcome.interrupted.end(),
                                           [&](const Interrupt& i) { return i.worker == worker; });
      send_point(worker, kCommandWork, kStopDone, /*fresh=*/!interrupted);
    }
    for (int worker : outcome.retired) {
      if (server_->bad_in_a_row(worker) >= config_.fault.max_bad)
        spdlog::warn("worker {} (rank {}) retired after {} bad gradients in a row; training goes on with {} workers",
                     worker, worker, server_->bad_in_a_row(worker), server_->active_workers());
      send_point(worker, kCommandStop, kStopRetired, false);
    }
  }

  void post_ack_receive() {
    check(MPI_Irecv(&ack_version_, 1, MPI_INT64_T, MPI_ANY_SOURCE, kTagAck, comm_, &ack_request_), "MPI_Irecv");
  }

  // A worker acknowledges each point that interrupted it: it is alive, though it has no gradient to
  // send (a slow worker under stale = "interrupt" may never finish one).
  void hear_acks() {
    for (;;) {
      int done = 0;
      MPI_Status status;
      check(MPI_Test(&ack_request_, &done, &status), "MPI_Test");
      if (!done) return;
      if (status.MPI_SOURCE >= 1 && status.MPI_SOURCE <= workers_) last_heard_[at(status.MPI_SOURCE)] = MPI_Wtime();
      post_ack_receive();
    }
  }

  // MPI_Testsome on `requests`: how many completed (their indices in completed_).
  int testsome(std::vector<MPI_Request>& requests) {
    int count = 0;
    check(MPI_Testsome(static_cast<int>(requests.size()), requests.data(), &count, completed_.data(), statuses_.data()),
          "MPI_Testsome");
    return count == MPI_UNDEFINED ? 0 : count;
  }

  // Starts receiving the next gradient message of every worker that has one waiting and no receive in
  // progress. Each message is probed (MPI_Improbe) before it is received, and received into a buffer of
  // its own size: a message of the wrong length is drained whole into `malformed_`, and rejected. A
  // receive posted in advance could not tell a too-long message from a right one but by truncating it,
  // and a truncated rendezvous receive overruns its buffer in Open MPI 4.1 (ob1 over vader's CMA get).
  void probe_gradients() {
    int any = 0;  // one cheap look first: most polls find nothing
    check(MPI_Iprobe(MPI_ANY_SOURCE, kTagGradient, comm_, &any, MPI_STATUS_IGNORE), "MPI_Iprobe");
    if (!any) return;
    for (int w = 1; w <= workers_; ++w) {
      MPI_Request& request = receive_requests_[at(w)];
      if (request != MPI_REQUEST_NULL) continue;
      int found = 0;
      MPI_Message message = MPI_MESSAGE_NULL;
      MPI_Status status;
      check(MPI_Improbe(w, kTagGradient, comm_, &found, &message, &status), "MPI_Improbe");
      if (!found) continue;
      GradientMessage& m = received_[at(w)];
      arriving_bytes_[at(w)] = received_bytes(status);
      if (arriving_bytes_[at(w)] == m.bytes()) {
        check(MPI_Imrecv(m.data(), m.units(), unit_type(), &message, &request), "MPI_Imrecv");
      } else {
        // Whole units (a buffer longer than the message is fine; a partial last unit too).
        std::vector<std::byte>& sink = malformed_[at(w)];
        sink.resize((arriving_bytes_[at(w)] + kUnitBytes - 1) / kUnitBytes * kUnitBytes);
        check(MPI_Imrecv(sink.data(), unit_count(sink.size()), unit_type(), &message, &request), "MPI_Imrecv");
      }
    }
  }

  // Serves every gradient that has arrived, oldest send first. Returns false when none had.
  bool serve_completed() {
    probe_gradients();
    const int count = testsome(receive_requests_);
    if (count == 0) return false;
    const double begin = MPI_Wtime();
    for (int i = 0; i < count; ++i) {
      const auto slot = static_cast<std::size_t>(i);
      order_[slot] = i;
      const int worker = completed_[slot] + 1;
      // A malformed message's header is not to be trusted, not even to order it: it goes first.
      const double key = arriving_bytes_[at(worker)] == received_[at(worker)].bytes() ? sent_at(worker) : -1e300;
      sort_key_[slot] = std::isnan(key) ? -1e300 : key;
    }
    // Testsome reports completions in index order; serve them in send order instead (corrected to
    // our clock), so that low ranks are not favoured when several arrive between two polls.
    std::sort(order_.begin(), order_.begin() + count, [&](int a, int b) {
      return sort_key_[static_cast<std::size_t>(a)] < sort_key_[static_cast<std::size_t>(b)];
    });
    for (int i = 0; i < count; ++i) serve(completed_[static_cast<std::size_t>(order_[static_cast<std::size_t>(i)])] + 1);
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

  // One gradient message from `worker` has been received.
  void serve(int worker) {
    last_heard_[at(worker)] = MPI_Wtime();
    const std::size_t bytes = arriving_bytes_[at(worker)];
    std::vector<std::byte>().swap(malformed_[at(worker)]);  // drained: free it
    // A worker retired for silence that was only slow: its late gradient lands (so its send completes)
    // and is dropped; its stop is already on the way.
    if (server_->retired(worker)) return;
    const GradientMessage& m = received_[at(worker)];
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
  }

  // A worker that owes a gradient and stays silent beyond fault.worker_timeout_s after it was handed a
  // point (or last heard from: a gradient, or the acknowledgement of an interrupt) is treated as gone
  // (logged), under every method: sync and rennala would wait for it, and under the asynchronous ones
  // it still holds a share of the interrupts and points (a stopped process never receives them). Its
  // stop is staged behind whatever is still on the wire to it.
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
  // each worker's time totals, and cancels the receives nobody will match. Nothing here waits on one
  // worker: a worker that has not taken its stop and answered within the deadline (a stopped or hung
  // process) aborts the job, after a checkpoint.
  void shutdown(StopReason reason) {
    std::vector<StatsMessage> stats(static_cast<std::size_t>(workers_));
    std::vector<MPI_Request> stats_requests(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    int pending = 0;
    for (int w = 1; w <= workers_; ++w) {
      check(MPI_Irecv(&stats[at(w)], sizeof(StatsMessage), MPI_BYTE, w, kTagStats, comm_, &stats_requests[at(w)]),
            "MPI_Irecv");
      ++pending;
      if (!server_->retired(w)) send_point(w, kCommandStop, reason, false);  // retired ones had theirs
    }
    const double deadline = MPI_Wtime() + kShutdownDeadlineS;
    backoff_.reset();
    for (;;) {
      // Gradients still in flight are received here and dropped: the run is over.
      probe_gradients();
      testsome(receive_requests_);
      pending -= testsome(stats_requests);
      post_staged();
      hear_acks();
      if (pending == 0 && staged_ == 0 &&
          std::all_of(outboxes_.begin(), outboxes_.end(), [](Outbox& box) { return delivered(box); }))
        break;
      if (MPI_Wtime() > deadline) {
        spdlog::error("{} worker(s) did not answer the stop within {:.0f} s; aborting the job", std::max(pending, 1),
                      kShutdownDeadlineS);
        checkpoint_at(now());  // what was learned is kept: --resume continues from here
        MPI_Abort(MPI_COMM_WORLD, kExitRuntime);
      }
      backoff_.sleep();
    }
    for (MPI_Request& r : receive_requests_) cancel(r);
    cancel(signal_request_);
    cancel(ack_request_);
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

  MPI_Comm comm_;
  const Config& config_;
  Objective& objective_;
  Recorder& recorder_;
  int workers_;
  const Checkpoint* resume_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Evaluator> evaluator_;  // evaluates snapshots of x on its own thread
  std::vector<GradientMessage> received_;    // per worker: its gradient, being received or served
  std::vector<std::size_t> arriving_bytes_ = std::vector<std::size_t>(static_cast<std::size_t>(workers_));
  std::vector<std::vector<std::byte>> malformed_ = std::vector<std::vector<std::byte>>(static_cast<std::size_t>(workers_));
  std::vector<Outbox> outboxes_;             // per worker: points on their way to it
  int staged_ = 0;                           // outboxes holding a staged point
  std::vector<MPI_Request> receive_requests_;
  MPI_Request signal_request_ = MPI_REQUEST_NULL;
  int signal_from_worker_ = 0;
  MPI_Request ack_request_ = MPI_REQUEST_NULL;
  std::int64_t ack_version_ = 0;
  std::vector<double> clock_offset_;         // per worker: our clock − theirs
  std::vector<double> last_heard_;           // per worker: MPI_Wtime of its last message or new point
  // Per worker, busy and injected seconds. During the run: the sum over the gradients that arrived (all
  // a periodic checkpoint can know); at shutdown, replaced by each worker's own totals, which also count
  // the work it abandoned (StatsMessage).
  std::vector<WorkerTimes> times_;
  std::vector<int> completed_;               // Testsome scratch, and per completion:
  std::vector<int> order_ = std::vector<int>(static_cast<std::size_t>(workers_));         // serving order
  std::vector<double> sort_key_ = std::vector<double>(static_cast<std::size_t>(workers_));
  std::vector<MPI_Status> statuses_;
  Backoff backoff_;
  std::uint32_t epoch_ = 0;
  double clock_offset_s_ = 0.0;  // training time of earlier epochs
  double earlier_wall_s_ = 0.0;  // wall time of earlier epochs
  double start_wall_ = 0.0;
  double paused_s_ = 0.0;  // wall seconds spent checkpointing (not charged to training)
  double busy_s_ = 0.0;  // wall seconds spent serving arrivals
  double last_arrival_ = 0.0;    // MPI_Wtime of the last served batch
  double mean_interval_ = 0.0;   // smoothed seconds between arrivals
  double last_checkpoint_ = 0.0;
};

}  // namespace

int serve(MPI_Comm comm, const Config& config, Objective& objective, Recorder& recorder, int workers,
          const Checkpoint* resume) {
  return ServerLoop(comm, config, objective, recorder, workers, resume).run();
}

}  // namespace ringmaster::mpi
