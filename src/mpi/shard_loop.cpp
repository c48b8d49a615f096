// Ranks 1 … shards − 1 of a sharded server (docs/method.md §7 "Sharded server"): a follower shard. It
// owns the blocks of plan.layout(shard) and runs the same Server on them as the leader (rank 0) runs on
// its own, fed the same calls in the same order: the leader's decision stream (protocol.hpp). For a
// gradient it takes the worker's next gradient slice (MPI keeps one sender's messages in order, so the
// n-th slice of worker w is the n-th gradient of w the leader decided on), and checks that its Outcome
// is the leader's, which it must be (the Server decides from the arrival order alone, and every shard is
// told whether the whole gradient was finite); a disagreement is a bug, and stops the job naming the
// shard, worker and version. It then sends its slice of each assigned point, as the leader does.
// Like every other rank it passes on a stop signal it gets to rank 0, and it tells the leader how many
// decisions it has taken, so that a follower stopped or hung is noticed within seconds (FollowerLink).
// Memory: its slices of x and m (and the method's sum), one gradient slice, the points in flight.
#include <spdlog/spdlog.h>

#include <cstring>
#include <vector>

#include "mpi/follower_link.hpp"
#include "mpi/loops.hpp"
#include "mpi/points.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster::mpi {
namespace {

// A follower polls from 20 µs backing off to 1 ms while the leader sends nothing (between arrivals).
constexpr double kMinPollS = 20e-6;
constexpr double kMaxPollS = 1e-3;
// How long the workers get to send their last gradient slices and counts after the stop: twice the
// leader's 10 s, so that a worker that never answers is the leader's to end the job for (it checkpoints
// first), not a follower's, whose abort would pre-empt that checkpoint.
constexpr double kShutdownDeadlineS = 20.0;
// A follower reports the decisions it has taken at most this often while the count moves (the leader
// judges silence in seconds: follower_link.hpp).
constexpr double kReportS = 0.1;

// Shard `shard`'s slice of x0.
std::vector<float> initial_slice(const Objective& objective, const ShardPlan& plan, int shard) {
  std::vector<float> x0(objective.layout().size());
  objective.initial_point(x0);
  return plan.copy_slice(x0, shard);
}

std::string action_name(std::int32_t action) { return to_string(static_cast<Action>(action)); }

class ShardLoop {
 public:
  ShardLoop(MPI_Comm comm, const Config& config, const Objective& objective, const ShardPlan& plan, int shard,
            int workers, UpdateExecutorFactory updates)
      : comm_(comm),
        shard_(shard),
        shards_(plan.shards()),
        workers_(workers),
        server_(config, plan.layout(shard), initial_slice(objective, plan, shard), workers, std::move(updates)),
        points_(comm, workers, plan.shards(), plan.size(shard), true),
        gradient_(plan.size(shard)),
        headers_(static_cast<std::size_t>(workers), 0),
        received_(static_cast<std::size_t>(workers), 0),
        backoff_(kMinPollS, kMaxPollS) {}

  int run(bool resumed) {
    if (resumed) receive_state();
    post_decision_receive();
    start_ = MPI_Wtime();
    for (;;) {
      const Decision d = next_decision();
      switch (d.kind) {
        case kDecideStart: agree(d, server_.start()); break;
        case kDecideGradient: apply_gradient(d); break;
        case kDecideMalformed:
          receive_gradient(d.worker);
          agree(d, server_.on_malformed(d.worker));
          break;
        case kDecideDrop:
          if (!server_.retired(d.worker)) disagree(d, "the worker is not retired here");
          receive_gradient(d.worker);
          break;
        case kDecideRetire: agree(d, server_.retire(d.worker)); break;
        case kDecideGather: send_state(d); break;
        case kDecideStop:
          report_progress(true);  // the leader waits for this one: the stop was taken
          spdlog::info("server shard {}: {} updates; {:.2f} s of {:.2f} s in its Server's calls on gradients, {:.2f} s "
                       "waiting for the leader's decisions ({:.2f} s of them for outcomes), {:.2f} s for gradient slices",
                       shard_, server_.k(), update_s_, MPI_Wtime() - start_, waiting_s_, outcome_wait_s_, slice_wait_s_);
          shutdown(static_cast<StopReason>(d.flag));
          return d.flag == kStopSignal ? kExitStopped : kExitOk;  // as the leader and the workers
        default: throw Error("server shard " + std::to_string(shard_) + ": unknown decision " + std::to_string(d.kind));
      }
    }
  }

 private:
  int rank_of(int worker) const { return worker + shards_ - 1; }
  std::size_t at(int worker) const { return static_cast<std::size_t>(worker - 1); }

  void post_decision_receive() {
    check(MPI_Irecv(decision_unit_, 1, unit_type(), 0, kTagDecision, comm_, &decision_request_), "MPI_Irecv");
  }

  // The leader's next decision; the points in flight progress meanwhile.
  Decision next_decision() {
    const double begin = MPI_Wtime();
    backoff_.reset();
    for (;;) {
      keep_in_touch();
      int done = 0;
      check(MPI_Test(&decision_request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (done) break;
      points_.progress();
      backoff_.sleep();
    }
    ++taken_;
    waiting_s_ += MPI_Wtime() - begin;
    Decision d;
    std::memcpy(&d, decision_unit_, sizeof d);
    if (d.kind != kDecideStop) post_decision_receive();
    return d;
  }

  // kDecideGradient: the worker's next gradient slice, applied while the leader applies its own; the
  // points go out, then the leader's outcome (the next decision) must be this shard's.
  void apply_gradient(const Decision& d) {
    const double begin = MPI_Wtime();
    const bool well_formed = receive_gradient(d.worker);
    slice_wait_s_ += MPI_Wtime() - begin;
    if (!well_formed)
      disagree(d, "its slice of the gradient has the wrong length (" + std::to_string(malformed_bytes_) + " bytes)");
    GradientHeader h;
    std::memcpy(&h, header_unit_, sizeof h);
    if (h.version != d.version)
      disagree(d, "its slice of the gradient was computed at version " + std::to_string(h.version));
    const double update_begin = MPI_Wtime();
    const Outcome& outcome = server_.on_gradient(d.worker, h.version, gradient_, h.finite != 0);
    update_s_ += MPI_Wtime() - update_begin;
    points_.send(outcome, server_.k(), server_.x());
    const double outcome_begin = MPI_Wtime();
    const Decision o = next_decision();
    outcome_wait_s_ += MPI_Wtime() - outcome_begin;
    if (o.kind != kDecideOutcome || o.worker != d.worker || o.version != d.version)
      disagree(d, "the leader's next decision (" + std::to_string(o.kind) + ") is not its outcome");
    check_agrees(o, outcome);
  }

  // Receives worker's next gradient: its header into header_unit_, its slice into gradient_ (true) or,
  // of the wrong length, drained (false).
  bool receive_gradient(int worker) {
    receive_header(worker, probe(worker, kTagGradientHeader));
    MPI_Status status;
    MPI_Message message = probe(worker, kTagGradient, &status);
    return take(worker, message, status);
  }

  // Waits (the points in flight progressing) for worker's next message with `tag`, matched.
  MPI_Message probe(int worker, int tag, MPI_Status* status = nullptr) {
    MPI_Message message = MPI_MESSAGE_NULL;
    MPI_Status ignored;
    backoff_.reset();
    for (;;) {
      keep_in_touch();
      if (improbe(rank_of(worker), tag, comm_, &message, status ? status : &ignored)) return message;
      points_.progress();
      backoff_.sleep();
    }
  }

  // What this shard owes the leader between its waits: a stop signal it got, and how far it is.
  void keep_in_touch() {
    signal_.poll();
    report_progress(false);
  }

  // Tells the leader how many decisions this shard has taken (follower_link.hpp): at most every kReportS
  // while the count moves, one report on the wire at a time; `last` (the stop taken) at once.
  void report_progress(bool last) {
    if (taken_ == reported_) return;
    if (report_request_ != MPI_REQUEST_NULL) {
      if (last) {
        wait(report_request_, nullptr, backoff_);
      } else {
        int done = 0;
        check(MPI_Test(&report_request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
        if (!done) return;
      }
    }
    const double t = MPI_Wtime();
    if (!last && t - reported_at_ < kReportS) return;
    report_unit_ = reported_ = taken_;
    reported_at_ = t;
    check(MPI_Isend(&report_unit_, 1, MPI_INT64_T, 0, kTagShardProgress, comm_, &report_request_), "MPI_Isend");
  }

  // A gradient header is one unit (far below the eager limit: it lands whole or not at all).
  void receive_header(int worker, MPI_Message message) {
    ++headers_[at(worker)];
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Imrecv(header_unit_, 1, unit_type(), &message, &request), "MPI_Imrecv");
    wait(request, nullptr, backoff_);
  }

  bool take(int worker, MPI_Message& message, const MPI_Status& status) {
    ++received_[at(worker)];
    const std::size_t bytes = received_bytes(status);
    MPI_Request request = MPI_REQUEST_NULL;
    const bool right = bytes == gradient_.size() * sizeof(float);
    if (right) {
      check(MPI_Imrecv(gradient_.data(), float_count(gradient_.size()), MPI_FLOAT, &message, &request), "MPI_Imrecv");
    } else {
      malformed_bytes_ = bytes;
      malformed_.resize((bytes + kUnitBytes - 1) / kUnitBytes * kUnitBytes);
      check(MPI_Imrecv(malformed_.data(), unit_count(malformed_.size()), unit_type(), &message, &request),
            "MPI_Imrecv");
    }
    wait(request, nullptr, backoff_);
    return right;
  }

  // The leader's outcome must be this shard's: same action, same k, same assignments, interrupts and
  // retirements. Then this shard's slice of the point goes to every assigned worker.
  void agree(const Decision& d, const Outcome& outcome) {
    check_agrees(d, outcome);
    points_.send(outcome, server_.k(), server_.x());
  }

  void check_agrees(const Decision& d, const Outcome& outcome) {
    if (outcome.action != static_cast<Action>(d.action) || server_.k() != d.k || outcome_hash(outcome) != d.outcome_hash)
      disagree(d, "here the outcome is " + to_string(outcome.action) + " at k = " + std::to_string(server_.k()) +
                      " (the leader's: " + action_name(d.action) + " at k = " + std::to_string(d.k) +
                      (outcome_hash(outcome) != d.outcome_hash ? ", other workers assigned or interrupted)" : ")"));
  }

  [[noreturn]] void disagree(const Decision& d, const std::string& what) {
    throw Error("server shard " + std::to_string(shard_) + " disagrees with the leader (rank 0) on worker " +
                std::to_string(d.worker) + "'s arrival at version " + std::to_string(d.version) + " (decision " +
                std::to_string(d.kind) + "): " + what);
  }

  // kDecideGather: this shard's x (and m and the method's sum) at the version the leader asks for.
  void send_state(const Decision& d) {
    if (server_.k() != d.version)
      disagree(d, "asked for its state at k = " + std::to_string(d.version) + ", it is at k = " +
                      std::to_string(server_.k()));
    const MethodState method = d.flag ? server_.method().state() : MethodState{};
    std::vector<std::span<const float>> parts{server_.x()};
    if (d.flag) {
      parts.push_back(server_.momentum());
      if (!method.sum.empty()) parts.push_back(method.sum);
    }
    std::vector<MPI_Request> requests(parts.size(), MPI_REQUEST_NULL);
    for (std::size_t i = 0; i < parts.size(); ++i)
      check(MPI_Isend(parts[i].data(), float_count(parts[i].size()), MPI_FLOAT, 0, kTagShardSlice, comm_,
                      &requests[i]),
            "MPI_Isend");
    for (MPI_Request& r : requests) wait(r, nullptr, backoff_);
  }

  // A resumed run: k, the counters and the method's count, then the slices of x, m and the sum.
  void receive_state() {
    ShardState state{};
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Irecv(&state, sizeof state, MPI_BYTE, 0, kTagShardSlice, comm_, &r), "MPI_Irecv");
    wait(r, nullptr, backoff_);
    if (state.workers != workers_) throw Error("server shard: resume state for another number of workers");
    std::vector<WorkerCounters> counters(static_cast<std::size_t>(workers_));
    std::vector<float> x(server_.layout().size()), m(x.size());
    MethodState method;
    method.count = state.method_count;
    if (state.sum) method.sum.resize(x.size());
    check(MPI_Irecv(counters.data(), static_cast<int>(counters.size() * sizeof(WorkerCounters)), MPI_BYTE, 0,
                    kTagShardSlice, comm_, &r),
          "MPI_Irecv");
    wait(r, nullptr, backoff_);
    for (std::vector<float>* part : {&x, &m, &method.sum}) {
      if (part->empty()) continue;
      check(MPI_Irecv(part->data(), float_count(part->size()), MPI_FLOAT, 0, kTagShardSlice, comm_, &r), "MPI_Irecv");
      wait(r, nullptr, backoff_);
    }
    server_.restore(state.k, x, m, counters, method);
  }

  // Stops every worker still active as the leader does, then takes every gradient slice the workers
  // still send it — each worker says how many it sent in all — so that no send is left unmatched.
  void shutdown(StopReason reason) {
    for (int w = 1; w <= workers_; ++w)
      if (!server_.retired(w)) points_.send(w, server_.k(), server_.x(), kCommandStop, reason);
    std::vector<std::int64_t> sent(static_cast<std::size_t>(workers_), -1);
    std::vector<MPI_Request> requests(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    for (int w = 1; w <= workers_; ++w)
      check(MPI_Irecv(&sent[at(w)], 1, MPI_INT64_T, rank_of(w), kTagStats, comm_, &requests[at(w)]), "MPI_Irecv");
    const double deadline = MPI_Wtime() + kShutdownDeadlineS;
    backoff_.reset();
    for (;;) {
      bool busy = false;
      for (int w = 1; w <= workers_; ++w) {
        MPI_Message message = MPI_MESSAGE_NULL;
        MPI_Status status;
        if (improbe(rank_of(w), kTagGradient, comm_, &message, &status)) {
          take(w, message, status);  // dropped: the run is over
          busy = true;
        }
        if (improbe(rank_of(w), kTagGradientHeader, comm_, &message, &status)) {
          receive_header(w, message);
          busy = true;
        }
      }
      points_.progress();
      bool done = points_.all_delivered();
      for (int w = 1; w <= workers_; ++w) {
        int complete = 0;
        check(MPI_Test(&requests[at(w)], &complete, MPI_STATUS_IGNORE), "MPI_Test");
        done = done && sent[at(w)] >= 0 && received_[at(w)] >= sent[at(w)] && headers_[at(w)] >= sent[at(w)];
      }
      if (done) break;
      if (MPI_Wtime() > deadline)
        throw Error("server shard " + std::to_string(shard_) + ": the workers did not finish within " +
                    std::to_string(static_cast<int>(kShutdownDeadlineS)) + " s of the stop");
      if (busy) backoff_.reset();
      backoff_.sleep();
    }
    if (report_request_ != MPI_REQUEST_NULL) wait(report_request_, nullptr, backoff_);
    signal_.finish(backoff_);
  }

  MPI_Comm comm_;
  int shard_, shards_, workers_;
  Server server_;                  // over plan.layout(shard_)
  PointSender points_;             // this shard's slices of the points
  alignas(64) std::byte header_unit_[kUnitBytes] = {};  // the gradient header (GradientHeader, one unit)
  std::vector<float> gradient_;    // (plan.size(shard_)) the gradient slice being applied
  std::vector<std::byte> malformed_;  // a slice of the wrong length, drained
  std::size_t malformed_bytes_ = 0;
  std::vector<std::int64_t> headers_;   // per worker: gradient headers received
  std::vector<std::int64_t> received_;  // per worker: gradient slices received
  alignas(64) std::byte decision_unit_[kUnitBytes] = {};
  MPI_Request decision_request_ = MPI_REQUEST_NULL;
  SignalReport signal_{comm_};
  std::int64_t taken_ = 0;       // decisions taken from the stream, every kind
  std::int64_t reported_ = 0;    // ... as of the last progress report
  double reported_at_ = 0.0;     // MPI_Wtime of that report
  std::int64_t report_unit_ = 0; // the report on the wire
  MPI_Request report_request_ = MPI_REQUEST_NULL;
  Backoff backoff_;
  // For the log at the stop: where this shard's time went.
  double start_ = 0.0;           // MPI_Wtime of the first decision waited for
  double update_s_ = 0.0;        // in Server::on_gradient
  double waiting_s_ = 0.0;       // waiting for the leader's next decision (outcomes included)
  double outcome_wait_s_ = 0.0;  // ... for the outcome of a gradient applied here
  double slice_wait_s_ = 0.0;    // waiting for (and receiving) gradient slices
};

}  // namespace

void send_shard_states(MPI_Comm comm, const ShardPlan& plan, const Checkpoint* resume) {
  if (!resume) return;
  Backoff backoff(kMinPollS, kMaxPollS);
  const ShardState state{resume->k, resume->method.count, resume->method.sum.empty() ? 0 : 1,
                         static_cast<std::int32_t>(resume->counters.size())};
  // A follower takes its state at once (it waits for nothing else); one that does not is stopped or hung,
  // and the liveness rule of the followers applies (follower_link.hpp).
  const double deadline = MPI_Wtime() + kFollowerGoneS;
  for (int s = 1; s < plan.shards(); ++s) {
    std::vector<MPI_Request> requests(5, MPI_REQUEST_NULL);
    check(MPI_Isend(&state, sizeof state, MPI_BYTE, s, kTagShardSlice, comm, &requests[0]), "MPI_Isend");
    check(MPI_Isend(resume->counters.data(), static_cast<int>(resume->counters.size() * sizeof(WorkerCounters)),
                    MPI_BYTE, s, kTagShardSlice, comm, &requests[1]),
          "MPI_Isend");
    std::size_t i = 2;
    for (const std::vector<float>* whole : {&resume->x, &resume->m, &resume->method.sum}) {
      if (whole->empty()) continue;
      const auto slice = plan.slice(std::span<const float>(*whole), s);
      check(MPI_Isend(slice.data(), float_count(slice.size()), MPI_FLOAT, s, kTagShardSlice, comm, &requests[i++]),
            "MPI_Isend");
    }
    for (MPI_Request& r : requests)
      if (r != MPI_REQUEST_NULL && !wait_until(r, deadline, backoff))
        throw Error("server shard " + std::to_string(s) + " (rank " + std::to_string(s) + ") did not take its part of " +
                    "the checkpoint within " + std::to_string(static_cast<int>(kFollowerGoneS)) +
                    " s (stopped or hung): the run cannot start without its blocks");
  }
}

int follow(MPI_Comm comm, const Config& config, const Objective& objective, const ShardPlan& plan, int shard,
           int workers, bool resumed, UpdateExecutorFactory updates) {
  return ShardLoop(comm, config, objective, plan, shard, workers, std::move(updates)).run(resumed);
}

}  // namespace ringmaster::mpi
