// Rank 0: the Ringmaster server over MPI (docs/method.md §1, §2, §4, §7). A receive for a gradient's
// header is posted for every worker at all times; gradients are received one at a time and served in
// the order their headers say they were sent, so no rank is favoured and no x-sized buffer is kept per
// worker; each waiting moment sleeps instead of spinning. No send to one worker is ever waited for
// while the others are served: a point for a worker whose previous one is still on the wire (a stopped
// or hung process) is staged behind it. Checkpoints are written periodically and at every stop; a
// signal on any rank stops the whole job cleanly after one. What a run does with the arrivals — the
// Server, evaluations, stop rules, checkpoints, retiring silent workers — is the Run's (run.hpp): this
// loop supplies its clock (MPI_Wtime) and its transport (messages; points go out through PointSender,
// points.hpp). With server.shards > 1 this rank is the leader (docs/method.md §7 "Sharded server"): its
// Run's Server holds shard 0's blocks, every call made on it goes to the follower shards
// (shard_loop.cpp) in the decision stream, and the whole model for evaluations and checkpoints is
// gathered from them (ShardPeers, run.hpp); FollowerLink (follower_link.hpp) carries the decisions and
// watches that the followers take them.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "mpi/follower_link.hpp"
#include "mpi/loops.hpp"
#include "mpi/points.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/run.hpp"

namespace ringmaster::mpi {
namespace {

// Polling period of the server: starts short when a gradient is on its way (its header has come) and
// backs off while idle, up to kPollShare of the mean time between arrivals (so polling adds
// ~kPollShare / 2 of an inter-arrival time of latency, and its wake-ups scale with the traffic), within
// [50 µs, 2 ms] (500 wake-ups a second at most when idle); after serving it polls at that cap at once. A tenth, before: 0.45 ms of latency per gradient of the 16-worker
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

// A receive that has been in progress this long is stuck (its sender stopped mid-transfer, on a
// transport that needs the sender to move the data): the next gradient gets a buffer of its own rather
// than wait behind it. A receive in one node (CMA) takes milliseconds even for gigabytes.
constexpr double kStuckReceiveS = 1.0;

// A gradient announced by its header (in send order), its message not yet served.
struct Announced {
  Announced(int w, double t) : worker(w), sent_at(t) {}
  int worker;
  double sent_at;                           // its header's sent_at on the server's clock
  double waiting_since = 0.0;               // MPI_Wtime it was first waited for
  bool receiving = false;                   // its message has been matched and is being received
  std::size_t bytes = 0;                    // ... of that many bytes
  std::unique_ptr<GradientMessage> buffer;  // ... into this buffer, or (a message of the wrong length)
  std::vector<std::byte> malformed;         // ... drained into this one
  MPI_Request request = MPI_REQUEST_NULL;
};

class ServerLoop : public ShardPeers {
 public:
  ServerLoop(MPI_Comm comm, Run& run, int workers, const ShardPlan* plan)
      : comm_(comm),
        run_(run),
        server_(run.server()),
        workers_(workers),
        shards_(plan ? plan->shards() : 1),
        plan_(plan),
        floats_(server_.layout().size()),
        points_(comm, workers, shards_, floats_, shards_ > 1),
        backoff_(kMinPollS, kMaxPollS) {
    const auto n = static_cast<std::size_t>(workers_);
    header_requests_.assign(n, MPI_REQUEST_NULL);
    for (int w = 0; w < workers_; ++w) headers_.emplace_back(0);
    clock_offset_.assign(n, 0.0);
    completed_.resize(n);
    statuses_.resize(n);
    worker_peak_rss_.assign(n, 0.0);
  }

  int run() {
    estimate_clock_offsets();
    start_wall_ = MPI_Wtime();
    last_arrival_ = start_wall_;
    check(MPI_Irecv(&signal_from_rank_, 1, MPI_INT, MPI_ANY_SOURCE, kTagSignal, comm_, &signal_request_),
          "MPI_Irecv");
    post_ack_receive();
    for (int w = 1; w <= workers_; ++w) post_header_receive(w);
    if (shards_ > 1) {
      link_.emplace(comm_, shards_, [this] { return run_.resume_hint(); });
      run_.shard_with(*this);
    }
    send_points(run_.start(now()), kDecideStart, 0, 0);
    // A checkpoint needs every shard's slices, so a job that loses a follower keeps the last one written
    // with all of them (FollowerLink): a fresh sharded run writes its first at once, so that there is one.
    if (shards_ > 1 && run_.epoch() == 0) run_.checkpoint(now());
    std::string reason;
    while ((reason = run_.stop_reason(now())).empty()) {
      if (rank_signalled()) {
        reason = "signal";
        break;
      }
      run_.collect_evaluations();  // a stop rule on the loss (target, divergence) acts when its result lands
      if (now() >= run_.next_eval_s()) run_.evaluate(now());
      run_.checkpoint_if_due(now());
      run_.progress(now());
      points_.progress();
      if (link_) link_->progress();
      hear_acks();
      while (const Outcome* outcome = run_.retire_silent(now()))
        send_points(*outcome, kDecideRetire, outcome->retired.empty() ? 0 : outcome->retired.front(), 0);
      if (!serve_completed()) backoff_.sleep();
    }
    const double train_time = now();
    // The workers first: nothing they send now can change x. Then the evaluations in flight and the
    // final one on the final parameters (docs/method.md §8), with the cores to itself.
    shutdown(reason == "signal" ? kStopSignal : kStopDone);
    run_.stop(train_time);
    return run_.finish(train_time, reason, busy_s_ / std::max(train_time - run_.start_time_s(), 1e-9), std::nullopt,
                       std::nullopt, memory());
  }

  // ShardPeers: the whole model at the Server's version k. The followers are told to send their slices
  // (a kDecideGather in the decision stream, so each sends its state after exactly the calls the leader
  // made before it: version k); shard 0's are the Server's. The last result is kept while no decision
  // has been made since (the final evaluation and checkpoint after the followers have stopped).
  const WholeState& gather(bool with_state) override {
    if (!gather_requests_.empty()) finish_gather();
    if (whole_.k == server_.k() && whole_decisions_ == decisions_ && (whole_.with_state || !with_state))
      return whole_;
    post_gather(with_state);
    finish_gather();
    return whole_;
  }

  void start_gather() override {
    if (!gather_requests_.empty()) finish_gather();
    post_gather(false);
  }

  const WholeState* poll_gather() override {
    if (gather_requests_.empty()) return whole_decisions_ >= 0 ? &whole_ : nullptr;
    int done = 0;
    check(MPI_Testall(static_cast<int>(gather_requests_.size()), gather_requests_.data(), &done, MPI_STATUSES_IGNORE),
          "MPI_Testall");
    if (!done) return nullptr;
    gather_requests_.clear();
    whole_decisions_ = gathered_decisions_;
    return &whole_;
  }

 private:
  std::size_t at(int worker) const { return static_cast<std::size_t>(worker - 1); }
  // Worker w is rank w + shards − 1 (ranks 0 … shards − 1 are the server's shards).
  int rank_of(int worker) const { return worker + shards_ - 1; }

  // Asks the followers for their state at k and posts the receives of it into whole_.
  void post_gather(bool with_state) {
    const std::int64_t k = server_.k();
    if (followers_stopped_)
      throw Error("internal: the sharded server's state at k = " + std::to_string(k) +
                  " is needed after its followers stopped");
    decide({kDecideGather, 0, k, k, 0, 0, with_state ? 1 : 0});
    const std::size_t size = plan_->end(shards_ - 1);
    whole_.k = k;
    whole_.with_state = with_state;
    whole_decisions_ = -1;  // until it has landed
    gathered_decisions_ = decisions_;
    whole_.x.resize(size);
    std::copy(server_.x().begin(), server_.x().end(), whole_.x.begin());
    const auto receive = [&](std::vector<float>& whole, int s) {
      gather_requests_.push_back(MPI_REQUEST_NULL);
      check(MPI_Irecv(whole.data() + plan_->begin(s), float_count(plan_->size(s)), MPI_FLOAT, s, kTagShardSlice,
                      comm_, &gather_requests_.back()),
            "MPI_Irecv");
    };
    if (with_state) {
      whole_.m.resize(size);
      std::copy(server_.momentum().begin(), server_.momentum().end(), whole_.m.begin());
      MethodState own = server_.method().state();
      whole_.method.count = own.count;
      whole_.method.sum.resize(own.sum.empty() ? 0 : size);
      std::copy(own.sum.begin(), own.sum.end(), whole_.method.sum.begin());
    }
    for (int s = 1; s < shards_; ++s) {
      receive(whole_.x, s);
      if (!with_state) continue;
      receive(whole_.m, s);
      if (!whole_.method.sum.empty()) receive(whole_.method.sum, s);
    }
  }

  // A follower is at most a few decisions behind: its slices land soon, unless it is stopped or hung,
  // which the link's liveness rule finds (and ends the job: it cannot go on without the follower's blocks).
  void finish_gather() {
    backoff_.reset();
    for (;;) {
      int done = 0;
      check(MPI_Testall(static_cast<int>(gather_requests_.size()), gather_requests_.data(), &done, MPI_STATUSES_IGNORE),
            "MPI_Testall");
      if (done) break;
      link_->progress();
      backoff_.sleep();
    }
    gather_requests_.clear();
    whole_decisions_ = gathered_decisions_;
  }

  // Sends one decision to every follower shard (FollowerLink), counting those that change a state.
  void decide(const Decision& d) {
    if (shards_ == 1) return;
    if (d.kind != kDecideGather && d.kind != kDecideStop) ++decisions_;
    link_->decide(d);
  }

  // Training clock: wall seconds since the start, less the time spent checkpointing (docs/method.md §7),
  // plus the training time of earlier epochs of a resumed run. Evaluations run on the evaluator thread
  // beside serving, so their time is training time.
  double now() const { return run_.start_time_s() + MPI_Wtime() - start_wall_ - run_.overhead_s(); }

  // A worker or a follower shard reporting a signal it got on its own (Slurm signals every task, a user
  // may signal one rank); a signal on this rank is the Run's stop rule.
  bool rank_signalled() {
    int done = 0;
    MPI_Status status;
    check(MPI_Test(&signal_request_, &done, &status), "MPI_Test");
    if (!done) return false;
    const int rank = status.MPI_SOURCE;
    spdlog::warn("rank {} ({} {}) received signal {}: checkpointing and stopping", rank,
                 rank < shards_ ? "server shard" : "worker", rank < shards_ ? rank : rank - shards_ + 1,
                 signal_from_rank_);
    return true;
  }

  // Each worker's MPI_Wtime differs from ours by an offset (other nodes, other clocks): measure it by
  // a ping-pong, offset = midpoint of our send/receive times − the worker's time.
  void estimate_clock_offsets() {
    const double deadline = MPI_Wtime() + kStartDeadlineS;
    for (int w = 1; w <= workers_; ++w) {
      double ping = MPI_Wtime(), their_time = 0.0;
      MPI_Request send = MPI_REQUEST_NULL, receive = MPI_REQUEST_NULL;
      check(MPI_Isend(&ping, 1, MPI_DOUBLE, rank_of(w), kTagClock, comm_, &send), "MPI_Isend");
      check(MPI_Irecv(&their_time, 1, MPI_DOUBLE, rank_of(w), kTagClock, comm_, &receive), "MPI_Irecv");
      if (!wait_until(send, deadline, backoff_) || !wait_until(receive, deadline, backoff_))
        throw Error("rank " + std::to_string(rank_of(w)) + " did not answer the start-up handshake within " +
                    std::to_string(static_cast<int>(kStartDeadlineS)) + " s (stopped or hung?)");
      clock_offset_[at(w)] = 0.5 * (ping + MPI_Wtime()) - their_time;
    }
  }

  // Delivers an outcome (PointSender) and tells the followers what was decided, in the same order.
  void send_points(const Outcome& outcome, DecisionKind kind, int worker, std::int64_t version) {
    points_.send(outcome, server_.k(), server_.x());
    decide({kind, worker, version, server_.k(), shards_ > 1 ? outcome_hash(outcome) : 0,
            static_cast<std::int32_t>(outcome.action), 0});
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
      const int worker = status.MPI_SOURCE - shards_ + 1;
      if (worker >= 1 && worker <= workers_) run_.heard(worker, now());
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

  // A gradient header is one unit, received into a buffer posted in advance (it cannot be truncated
  // into an overrun: it is far below the eager limit).
  void post_header_receive(int worker) {
    GradientMessage& h = headers_[at(worker)];
    check(MPI_Irecv(h.data(), 1, unit_type(), rank_of(worker), kTagGradientHeader, comm_, &header_requests_[at(worker)]),
          "MPI_Irecv");
  }

  // Queues the gradients whose headers have landed, in the order they were sent (corrected to our
  // clock) rather than the rank order Testsome reports them in, so that no rank is favoured when
  // several arrive between two polls.
  int hear_headers() {
    const int count = testsome(header_requests_);
    const std::size_t first = announced_.size();
    for (int i = 0; i < count; ++i) {
      const int worker = completed_[static_cast<std::size_t>(i)] + 1;
      const GradientHeader h = headers_[at(worker)].header();
      const double sent_at = h.sent_at + clock_offset_[at(worker)];
      announced_.emplace_back(worker, std::isnan(sent_at) ? -1e300 : sent_at);
      post_header_receive(worker);
    }
    // A worker's headers carry increasing send times, so its own gradients stay in the order of its
    // messages (the order MPI matches them in).
    std::stable_sort(announced_.begin() + static_cast<std::ptrdiff_t>(first), announced_.end(),
                     [](const Announced& a, const Announced& b) { return a.sent_at < b.sent_at; });
    return count;
  }

  // Starts receiving announced gradients, in send order, one at a time: each message is probed
  // (MPI_Improbe) before it is received, into a buffer of its own size, so a message of the wrong
  // length is drained whole into `malformed` and rejected. A receive posted in advance could not tell a
  // too-long message from a right one but by truncating it, and a truncated rendezvous receive overruns
  // its buffer in Open MPI 4.1 (ob1 over vader's CMA get). A gradient stuck for kStuckReceiveS (its
  // message not come, or its receive not completed) is passed by the ones behind it, which then take a
  // buffer of their own: one stopped worker never holds up the others.
  void start_receives() {
    const double t = MPI_Wtime();
    std::fill(passed_.begin(), passed_.end(), 0);
    for (Announced& a : announced_) {
      if (passed_[at(a.worker)]) continue;  // a worker's messages are received in the order they came
      if (!a.receiving) {
        MPI_Message message = MPI_MESSAGE_NULL;
        MPI_Status status;
        if (improbe(rank_of(a.worker), kTagGradient, comm_, &message, &status)) {
          start_receive(a, message, status);
          return;
        }
      }
      if (!stuck(a, t)) return;  // wait for it: its message follows its header at once
      passed_[at(a.worker)] = 1;
    }
  }

  void start_receive(Announced& a, MPI_Message& message, const MPI_Status& status) {
    ++started_;
    a.bytes = received_bytes(status);
    a.receiving = true;
    a.waiting_since = MPI_Wtime();
    if (a.bytes == gradient_bytes_) {
      if (free_gradients_.empty()) {
        free_gradients_.push_back(std::make_unique<GradientMessage>(floats_));
        ++gradient_buffers_;
      }
      a.buffer = std::move(free_gradients_.back());
      free_gradients_.pop_back();
      check(MPI_Imrecv(a.buffer->data(), a.buffer->units(), unit_type(), &message, &a.request), "MPI_Imrecv");
    } else {
      // Whole units (a buffer longer than the message is fine; a partial last unit too).
      a.malformed.resize((a.bytes + kUnitBytes - 1) / kUnitBytes * kUnitBytes);
      check(MPI_Imrecv(a.malformed.data(), unit_count(a.malformed.size()), unit_type(), &message, &a.request),
            "MPI_Imrecv");
    }
  }

  // True once `a` has kept the gradients behind it waiting for kStuckReceiveS.
  static bool stuck(Announced& a, double t) {
    if (a.waiting_since == 0.0) a.waiting_since = t;
    return t - a.waiting_since > kStuckReceiveS;
  }

  // The next gradient to serve: the first in send order whose message is in, passing only stuck ones.
  std::deque<Announced>::iterator next_received() {
    const double t = MPI_Wtime();
    for (auto it = announced_.begin(); it != announced_.end(); ++it) {
      if (it->receiving) {
        int done = 0;
        check(MPI_Test(&it->request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (done) return it;
      }
      if (!stuck(*it, t)) break;
    }
    return announced_.end();
  }

  // Receives every announced gradient whose message has arrived and serves it (drops it when `serving`
  // is false: the run is over), oldest send first. Returns how many.
  int receive_gradients(bool serving) {
    int count = 0;
    while (!announced_.empty()) {
      start_receives();
      const auto next = next_received();
      if (next == announced_.end()) break;
      Announced a = std::move(*next);
      announced_.erase(next);
      if (serving) serve(a);
      if (a.buffer) free_gradients_.push_back(std::move(a.buffer));
      ++count;
    }
    return count;
  }

  // Serves every gradient that has arrived. Returns false when none had.
  bool serve_completed() {
    const double begin = MPI_Wtime();
    const int heard = hear_headers();
    started_ = 0;
    const int count = receive_gradients(true);
    if (count == 0) {
      if (heard > 0 || started_ > 0) backoff_.reset();  // a message follows its header at once; a receive ends soon
      return false;
    }
    busy_s_ += MPI_Wtime() - begin;
    // Mean time between arrivals (exponentially weighted over the last ~20 batches) sets the poll cap.
    const double interval = (begin - last_arrival_) / count;
    last_arrival_ = begin;
    mean_interval_ = mean_interval_ > 0.0 ? 0.95 * mean_interval_ + 0.05 * interval : interval;
    backoff_.set_max(std::clamp(kPollShare * mean_interval_, kMinPollCapS, kMaxPollS));
    // The next arrival is about a mean interval away: polling at the cap from now on sees it at most the
    // cap late, as a restart from kMinPollS would, without the ~10–17 shorter sleeps of the restart.
    backoff_.hold();
    return true;
  }

  // One gradient message from `a.worker` has been received.
  void serve(const Announced& a) {
    const int worker = a.worker;
    // A worker retired for silence that was only slow: its late gradient lands (so its send completes)
    // and is dropped; its stop is already on the way.
    if (server_.retired(worker)) {
      decide({kDecideDrop, worker, 0, server_.k(), 0, 0, 0});
      return;
    }
    if (!a.buffer) {
      // Truncated or oversized: nothing in it can be trusted, not even the header.
      spdlog::error("rank {} sent a gradient message of {} bytes, expected {}: rejected", rank_of(worker), a.bytes,
                    gradient_bytes_);
      send_points(run_.on_malformed(now(), worker), kDecideMalformed, worker, 0);
      return;
    }
    const GradientMessage& m = *a.buffer;
    const GradientHeader h = m.header();
    // The followers start on their slices while this rank works on its own; the outcome follows.
    decide({kDecideGradient, worker, h.version, 0, 0, 0, 0});
    const Outcome& outcome = run_.on_gradient(now(), worker, h.version, m.payload(), h.loss, h.compute_s, h.injected_s,
                                              h.finite != 0);
    if (outcome.action == Action::rejected)
      spdlog::error("rank {} sent a gradient with NaN or Inf entries: rejected, parameters untouched", rank_of(worker));
    send_points(outcome, kDecideOutcome, worker, h.version);
  }

  // Stops every worker, lets gradients already in flight land (so no send is left hanging), collects
  // each worker's time totals, and cancels the receives nobody will match. Nothing here waits on one
  // worker: a worker that has not taken its stop and answered within the deadline (a stopped or hung
  // process) aborts the job, after a checkpoint.
  void shutdown(StopReason reason) {
    if (shards_ > 1) {
      run_.flush_evaluation();  // its x is in the buffer the final gather fills
      // The followers' last state first (the final evaluation and checkpoint need it), then their stop:
      // each stops the workers as this loop does, drains what the workers still send it, and says it
      // took the stop (its last progress report).
      gather(true);
      decide({kDecideStop, 0, server_.k(), server_.k(), 0, 0, reason});
      followers_stopped_ = true;
    }
    std::vector<StatsMessage> stats(static_cast<std::size_t>(workers_));
    std::vector<MPI_Request> stats_requests(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    int pending = 0;
    for (int w = 1; w <= workers_; ++w) {
      check(MPI_Irecv(&stats[at(w)], sizeof(StatsMessage), MPI_BYTE, rank_of(w), kTagStats, comm_,
                      &stats_requests[at(w)]),
            "MPI_Irecv");
      ++pending;
      // retired ones had theirs
      if (!server_.retired(w)) points_.send(w, server_.k(), server_.x(), kCommandStop, reason);
    }
    const double deadline = MPI_Wtime() + kShutdownDeadlineS;
    backoff_.reset();
    for (;;) {
      // Gradients still in flight are received here and dropped: the run is over.
      hear_headers();
      receive_gradients(false);
      pending -= testsome(stats_requests);
      points_.progress();
      if (link_) link_->progress();
      hear_acks();
      const bool all_delivered = points_.all_delivered();
      const bool followers_done = !link_ || link_->idle();
      if (pending == 0 && all_delivered && announced_.empty() && followers_done) break;
      if (MPI_Wtime() > deadline) {
        if (!followers_done)
          spdlog::error("server shard(s) {} did not take the stop within {:.0f} s", link_->behind(), kShutdownDeadlineS);
        if (pending > 0 || !all_delivered || !announced_.empty())
          spdlog::error("{} worker(s) did not answer the stop within {:.0f} s", std::max(pending, 1), kShutdownDeadlineS);
        spdlog::error("aborting the job");
        run_.checkpoint(now());  // what was learned is kept: --resume continues from here
        MPI_Abort(MPI_COMM_WORLD, kExitRuntime);
      }
      backoff_.sleep();
    }
    if (link_) link_->close(backoff_);
    for (MPI_Request& r : header_requests_) cancel(r);
    cancel(signal_request_);
    cancel(ack_request_);
    // The workers' totals include abandoned work, which their gradient messages could not report.
    for (int w = 1; w <= workers_; ++w) {
      const WorkerTimes& before = run_.times_at_start()[at(w)];
      run_.times()[at(w)] = {before.busy_s + stats[at(w)].busy_s, before.injected_s + stats[at(w)].injected_s};
      worker_peak_rss_[at(w)] = stats[at(w)].peak_rss_bytes;
    }
  }

  void cancel(MPI_Request& r) {
    if (r == MPI_REQUEST_NULL) return;
    check(MPI_Cancel(&r), "MPI_Cancel");
    wait(r, nullptr, backoff_);
  }

  // What this run held in memory (summary.json "memory", docs/method.md §1 "Memory").
  RunMemory memory() const {
    RunMemory m;
    m.point_bytes = static_cast<double>(message_bytes(sizeof(PointHeader), floats_));
    m.point_buffers = static_cast<std::int64_t>(points_.buffers_allocated());
    m.gradient_buffers = gradient_buffers_;
    m.server_peak_rss_bytes = peak_rss_bytes();
    m.worker_peak_rss_bytes = worker_peak_rss_;
    return m;
  }

  MPI_Comm comm_;
  Run& run_;
  Server& server_;
  int workers_;
  int shards_;                               // server.shards: ranks 0 … shards − 1
  const ShardPlan* plan_;                    // with shards > 1
  std::size_t floats_;                       // the Server's layout.size: shard 0's slice
  std::size_t gradient_bytes_ = message_bytes(sizeof(GradientHeader), floats_);
  PointSender points_;                       // points on their way to the workers
  std::optional<FollowerLink> link_;         // with shards > 1: the decision stream and the followers' liveness
  std::int64_t decisions_ = 0;               // decisions sent, gathers and the stop not counted
  WholeState whole_;                         // the last gather
  std::int64_t whole_decisions_ = -1;        // decisions_ when it was made (-1: none, or not landed)
  std::int64_t gathered_decisions_ = -1;     // decisions_ when the gather in flight was asked for
  std::vector<MPI_Request> gather_requests_; // its receives (empty: none in flight)
  bool followers_stopped_ = false;
  std::vector<GradientMessage> headers_;     // per worker: its next gradient header (one unit)
  std::vector<MPI_Request> header_requests_;
  std::deque<Announced> announced_;          // gradients announced and not yet served, in send order
  std::vector<std::unique_ptr<GradientMessage>> free_gradients_;  // gradient buffers not receiving
  std::int64_t gradient_buffers_ = 0;        // gradient buffers allocated
  int started_ = 0;                          // receives started by this serve_completed()
  std::vector<char> passed_ = std::vector<char>(static_cast<std::size_t>(workers_));  // start_receives scratch
  MPI_Request signal_request_ = MPI_REQUEST_NULL;
  int signal_from_rank_ = 0;
  MPI_Request ack_request_ = MPI_REQUEST_NULL;
  std::int64_t ack_version_ = 0;
  std::vector<double> clock_offset_;         // per worker: our clock − theirs
  std::vector<int> completed_;               // Testsome scratch
  std::vector<MPI_Status> statuses_;
  std::vector<double> worker_peak_rss_;      // per worker, from its stats
  Backoff backoff_;
  double start_wall_ = 0.0;
  double busy_s_ = 0.0;  // wall seconds spent serving arrivals
  double last_arrival_ = 0.0;    // MPI_Wtime of the last served batch
  double mean_interval_ = 0.0;   // smoothed seconds between arrivals
};

}  // namespace

int serve(MPI_Comm comm, Run& run, int workers, const ShardPlan* plan) {
  return ServerLoop(comm, run, workers, plan).run();
}

}  // namespace ringmaster::mpi
