// Rank 0: the Ringmaster server over MPI (docs/method.md §1, §2, §4, §7). A receive is posted for every worker
// at all times; completed receives are served in the order the gradients were sent, so no rank is
// favoured; each waiting moment sleeps instead of spinning. No send to one worker is ever waited for
// while the others are served: a point for a worker whose previous one is still on the wire (a stopped
// or hung process) is staged behind it. Checkpoints are written periodically and at every stop; a
// signal on any rank stops the whole job cleanly after one. What a run does with the arrivals — the
// Server, evaluations, stop rules, checkpoints, retiring silent workers — is the Run's (run.hpp): this
// loop supplies its clock (MPI_Wtime) and its transport (messages).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/run.hpp"

namespace ringmaster::mpi {
namespace {

// Polling period of the server: starts short after activity and backs off while idle, up to
// kPollShare of the mean time between arrivals (so polling adds ~kPollShare / 2 of an inter-arrival
// time of latency, and its wake-ups scale with the traffic), within [50 µs, 2 ms] (500 wake-ups a
// second at most when idle). A tenth, before: 0.45 ms of latency per gradient of the 16-worker
// quadratic (a 9 ms mean interval); 2% makes it ~0.1 ms for a few hundred more wake-ups a second
// (docs/benchmarks.md "Runtime efficiency").
constexpr double kMinPollS = 20e-6;
constexpr double kMaxPollS = 2e-3;
constexpr double kMinPollCapS = 50e-6;
constexpr double kPollShare = 0.02;
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
  ServerLoop(MPI_Comm comm, Run& run, int workers)
      : comm_(comm), run_(run), server_(run.server()), workers_(workers), backoff_(kMinPollS, kMaxPollS) {
    const std::size_t floats = server_.layout().size();
    for (int w = 0; w < workers_; ++w) {
      received_.emplace_back(floats);
      outboxes_.emplace_back(floats);
    }
    receive_requests_.assign(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    clock_offset_.assign(static_cast<std::size_t>(workers_), 0.0);
    completed_.resize(static_cast<std::size_t>(workers_));
    statuses_.resize(static_cast<std::size_t>(workers_));
  }

  int run() {
    estimate_clock_offsets();
    start_wall_ = MPI_Wtime();
    last_arrival_ = start_wall_;
    check(MPI_Irecv(&signal_from_worker_, 1, MPI_INT, MPI_ANY_SOURCE, kTagSignal, comm_, &signal_request_),
          "MPI_Irecv");
    post_ack_receive();
    send_points(run_.start(now()));
    std::string reason;
    while ((reason = run_.stop_reason(now())).empty()) {
      if (worker_signalled()) {
        reason = "signal";
        break;
      }
      run_.collect_evaluations();  // a stop rule on the loss (target, divergence) acts when its result lands
      if (now() >= run_.next_eval_s()) run_.evaluate(now());
      run_.checkpoint_if_due(now());
      run_.progress(now());
      post_staged();
      hear_acks();
      while (const Outcome* outcome = run_.retire_silent(now())) send_points(*outcome);
      if (!serve_completed()) backoff_.sleep();
    }
    const double train_time = now();
    // The workers first: nothing they send now can change x. Then the evaluations in flight and the
    // final one on the final parameters (docs/method.md §8), with the cores to itself.
    shutdown(reason == "signal" ? kStopSignal : kStopDone);
    run_.stop(train_time);
    return run_.finish(train_time, reason, busy_s_ / std::max(train_time - run_.start_time_s(), 1e-9));
  }

 private:
  std::size_t at(int worker) const { return static_cast<std::size_t>(worker - 1); }

  // Training clock: wall seconds since the start, less the time spent checkpointing (docs/method.md §7),
  // plus the training time of earlier epochs of a resumed run. Evaluations run on the evaluator thread
  // beside serving, so their time is training time.
  double now() const { return run_.start_time_s() + MPI_Wtime() - start_wall_ - run_.overhead_s(); }

  // A worker reporting a signal it got on its own (Slurm signals every task, a user may kill one rank);
  // a signal on this rank is the Run's stop rule.
  bool worker_signalled() {
    int done = 0;
    check(MPI_Test(&signal_request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) spdlog::warn("a worker received signal {}: checkpointing and stopping", signal_from_worker_);
    return done != 0;
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
  void send_point(int worker, Command command, StopReason reason) {
    Outbox& box = outboxes_[at(worker)];
    const bool on_the_wire = !delivered(box);
    PointMessage& m = on_the_wire ? box.staged : box.sending;
    m.set_header({server_.k(), command, reason});
    if (command == kCommandWork) std::copy(server_.x().begin(), server_.x().end(), m.payload().begin());
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

  // Delivers an outcome: the current point to every worker it assigns, a stop to every worker it retires.
  void send_points(const Outcome& outcome) {
    for (int worker : outcome.assign) send_point(worker, kCommandWork, kStopDone);
    for (int worker : outcome.retired) send_point(worker, kCommandStop, kStopRetired);
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
      if (status.MPI_SOURCE >= 1 && status.MPI_SOURCE <= workers_) run_.heard(status.MPI_SOURCE, now());
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
    backoff_.set_max(std::clamp(kPollShare * mean_interval_, kMinPollCapS, kMaxPollS));
    backoff_.reset();
    return true;
  }

  double sent_at(int worker) const { return received_[at(worker)].header().sent_at + clock_offset_[at(worker)]; }

  // One gradient message from `worker` has been received.
  void serve(int worker) {
    const std::size_t bytes = arriving_bytes_[at(worker)];
    std::vector<std::byte>().swap(malformed_[at(worker)]);  // drained: free it
    // A worker retired for silence that was only slow: its late gradient lands (so its send completes)
    // and is dropped; its stop is already on the way.
    if (server_.retired(worker)) return;
    const GradientMessage& m = received_[at(worker)];
    if (bytes != m.bytes()) {
      // Truncated or oversized: nothing in it can be trusted, not even the header.
      spdlog::error("rank {} sent a gradient message of {} bytes, expected {}: rejected", worker, bytes, m.bytes());
      send_points(run_.on_malformed(now(), worker));
      return;
    }
    const GradientHeader h = m.header();
    const Outcome& outcome = run_.on_gradient(now(), worker, h.version, m.payload(), h.loss, h.compute_s, h.injected_s);
    if (outcome.action == Action::rejected)
      spdlog::error("rank {} sent a gradient with NaN or Inf entries: rejected, parameters untouched", worker);
    send_points(outcome);
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
      if (!server_.retired(w)) send_point(w, kCommandStop, reason);  // retired ones had theirs
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
        run_.checkpoint(now());  // what was learned is kept: --resume continues from here
        MPI_Abort(MPI_COMM_WORLD, kExitRuntime);
      }
      backoff_.sleep();
    }
    for (MPI_Request& r : receive_requests_) cancel(r);
    cancel(signal_request_);
    cancel(ack_request_);
    // The workers' totals include abandoned work, which their gradient messages could not report.
    for (int w = 1; w <= workers_; ++w) {
      const WorkerTimes& before = run_.times_at_start()[at(w)];
      run_.times()[at(w)] = {before.busy_s + stats[at(w)].busy_s, before.injected_s + stats[at(w)].injected_s};
    }
  }

  void cancel(MPI_Request& r) {
    if (r == MPI_REQUEST_NULL) return;
    check(MPI_Cancel(&r), "MPI_Cancel");
    wait(r, nullptr, backoff_);
  }

  MPI_Comm comm_;
  Run& run_;
  Server& server_;
  int workers_;
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
  std::vector<int> completed_;               // Testsome scratch, and per completion:
  std::vector<int> order_ = std::vector<int>(static_cast<std::size_t>(workers_));         // serving order
  std::vector<double> sort_key_ = std::vector<double>(static_cast<std::size_t>(workers_));
  std::vector<MPI_Status> statuses_;
  Backoff backoff_;
  double start_wall_ = 0.0;
  double busy_s_ = 0.0;  // wall seconds spent serving arrivals
  double last_arrival_ = 0.0;    // MPI_Wtime of the last served batch
  double mean_interval_ = 0.0;   // smoothed seconds between arrivals
};

}  // namespace

int serve(MPI_Comm comm, Run& run, int workers) { return ServerLoop(comm, run, workers).run(); }

}  // namespace ringmaster::mpi
