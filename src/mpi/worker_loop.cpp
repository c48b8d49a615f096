// Ranks 1..n: compute a gradient at the point the server sent, add the injected delay of docs/method.md §5,
// send it, repeat — what the worker draws and does wrong is its WorkerModel's (worker_model.hpp), the
// same as in the simulator; this loop is the transport. The next point is probed for between slices of
// the injected delay, so a point that arrives mid-computation interrupts it within one polling slice,
// even inside a long injected delay. Two x-sized buffers (docs/method.md §1 "Memory"): the point and the
// gradient; a point is received only once the one before it is done with (its gradient sent, or its
// computation abandoned for the new point), so it always goes into the point's buffer.
//
// With server.shards = S > 1 (docs/method.md §7 "Sharded server") the worker sends slice s of each
// gradient to shard s (the header, with whether the whole gradient is finite, to rank 0 alone) and
// assembles its point from the S slices of one version, each received straight into its place
// (ShardPlan::begin(s)) in the same two buffers, contiguous (protocol.hpp): rank 0's point header is the
// one probed for, and the other shards' slices of that version follow it (a shard may have dropped a point superseded on its way, never the newest: the
// worker takes each shard's messages until all agree on the newest version, or on a stop).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/run.hpp"
#include "ringmaster/worker_model.hpp"

namespace ringmaster::mpi {
namespace {

// While idle, the worker polls for its next point from 20 µs backing off to 1 ms (the reply to a
// gradient usually comes within a few polls). Inside an injected delay of d seconds it knows how long
// it will be idle unless interrupted, and tests for a point every kSliceShare × d, within [kMinSliceS,
// kMaxSliceS]: an interrupt is seen at most that late (plus a wake-up), a few % of the gradient it cuts
// short, and a stop within 10 ms; a worker sleeping 0.1–0.4 s wakes 125–500 times a second instead of
// 500. The trade, measured (docs/benchmarks.md "Runtime efficiency" and "Waiting without burning CPU"):
// 16 workers asleep 2–8 s at a time (BASE_S=2 scripts/bench-cpu.sh) cost 0.111 cores with fixed 2 ms
// slices and 0.054 with these, while an interrupted worker of the 16-worker quadratic (d = 40–80 ms)
// starts its next gradient 0.7 ms after the interrupt (median, all of the runtime's overhead included).
constexpr double kMinPollS = 20e-6;
constexpr double kMaxPollS = 1e-3;
constexpr double kSliceShare = 0.02;
constexpr double kMinSliceS = 0.5e-3;
constexpr double kMaxSliceS = 10e-3;

class WorkerLoop {
 public:
  WorkerLoop(MPI_Comm comm, const Config& config, Objective& objective, int worker, std::uint32_t epoch,
             const ShardPlan* plan)
      : comm_(comm),
        objective_(objective),
        worker_(worker),
        shards_(plan ? plan->shards() : 1),
        point_(objective.layout().size()),
        gradient_(objective.layout().size()),
        model_(config, worker, epoch, objective.training_examples()),
        backoff_(kMinPollS, kMaxPollS) {
    if (shards_ == 1) return;
    const auto n = static_cast<std::size_t>(shards_);
    point_headers_.resize(n);
    slice_requests_.assign(2 * n, MPI_REQUEST_NULL);
    slices_sent_.assign(n, 0);
    shard0_gradient_bytes_ = message_bytes(sizeof(GradientHeader), plan->size(0));
    for (int s = 0; s < shards_; ++s) slices_.emplace_back(plan->begin(s), plan->size(s));
  }

  int run() {
    answer_clock_handshake();
    next_message();
    while (!stopped_) {
      if (compute()) continue;  // interrupted: the new point (or a stop) is already current
      next_message();
    }
    finish();
    switch (point_.header().reason) {
      case kStopSignal: return kExitStopped;
      default: return kExitOk;  // done, or retired: this rank did what it was asked
    }
  }

 private:
  void answer_clock_handshake() {
    double ping = 0.0;
    MPI_Request request;
    check(MPI_Irecv(&ping, 1, MPI_DOUBLE, 0, kTagClock, comm_, &request), "MPI_Irecv");
    wait(request, nullptr, backoff_);
    double mine = MPI_Wtime();
    check(MPI_Isend(&mine, 1, MPI_DOUBLE, 0, kTagClock, comm_, &request), "MPI_Isend");
    wait(request, nullptr, backoff_);
  }

  // True when a new point (or a stop) has come: probed, matched to `incoming_`, not yet received. Also
  // passes on a signal this process got: the server decides to stop.
  bool arrived() {
    signal_.poll();
    if (incoming_ != MPI_MESSAGE_NULL) return true;
    return improbe(0, kTagPoint, comm_, &incoming_, &incoming_status_);
  }

  // Waits (without spinning) for the next message and makes it current.
  void next_message() {
    backoff_.reset();
    while (!arrived()) backoff_.sleep();
    take();
  }

  // Receives the message that arrived into point_: the point before it is done with.
  void take() {
    if (shards_ > 1) return take_slices();
    const std::size_t bytes = received_bytes(incoming_status_);
    if (bytes != point_.bytes() && bytes != kUnitBytes)  // a point, or a stop (its header)
      throw Error("rank 0 sent a point message of " + std::to_string(bytes) + " bytes, expected " +
                  std::to_string(point_.bytes()) + " (or a stop of " + std::to_string(kUnitBytes) + ")");
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Imrecv(point_.data(), unit_count(bytes), unit_type(), &incoming_, &request), "MPI_Imrecv");
    wait(request, nullptr, backoff_);
    incoming_ = MPI_MESSAGE_NULL;
    if (point_.header().command == kCommandStop) stopped_ = true;
  }

  // take() with a sharded server: rank 0's point, then every shard's slice of the same version.
  void take_slices() {
    std::vector<PointHeader>& have = point_headers_;
    receive_slice(0, incoming_, incoming_status_);
    incoming_ = MPI_MESSAGE_NULL;
    for (int s = 1; s < shards_; ++s) have[static_cast<std::size_t>(s)] = {-1, kCommandWork, kStopDone};
    for (;;) {
      // The newest point any shard has sent, a stop above all: every shard sends it (the same
      // decisions), and none drops its newest.
      bool stop = false;
      std::int64_t newest = -1;
      for (const PointHeader& h : have) {
        stop = stop || h.command == kCommandStop;
        newest = std::max(newest, h.version);
      }
      int behind = -1;
      for (int s = 0; s < shards_ && behind < 0; ++s) {
        const PointHeader& h = have[static_cast<std::size_t>(s)];
        if (stop ? h.command != kCommandStop : h.version < newest) behind = s;
      }
      if (behind < 0) break;
      MPI_Status status;
      MPI_Message message = probe(behind, kTagPoint, &status);
      receive_slice(behind, message, status);
    }
    point_.set_header(have[0]);
    if (have[0].command == kCommandStop) stopped_ = true;
  }

  // Waits (without spinning) for the next message with `tag` from rank `shard`, matched; a signal meanwhile
  // is passed on (a shard that does not send is stopped or hung: rank 0 can still stop the job).
  MPI_Message probe(int shard, int tag, MPI_Status* status) {
    MPI_Message message = MPI_MESSAGE_NULL;
    backoff_.reset();
    for (;;) {
      signal_.poll();
      if (improbe(shard, tag, comm_, &message, status)) return message;
      backoff_.sleep();
    }
  }

  // Shard s's point header (matched as `message`) into point_headers_[s] and, for work, its slice of x
  // into its place in point_.
  void receive_slice(int s, MPI_Message& message, const MPI_Status& status) {
    const auto at = static_cast<std::size_t>(s);
    if (received_bytes(status) != kUnitBytes)
      throw Error("server shard " + std::to_string(s) + " sent a point header of " +
                  std::to_string(received_bytes(status)) + " bytes, expected " + std::to_string(kUnitBytes));
    alignas(64) std::byte unit[kUnitBytes];
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Imrecv(unit, 1, unit_type(), &message, &request), "MPI_Imrecv");
    wait(request, nullptr, backoff_);
    std::memcpy(&point_headers_[at], unit, sizeof(PointHeader));
    if (point_headers_[at].command != kCommandWork) return;
    const auto [begin, size] = slices_[at];
    MPI_Status slice_status;
    MPI_Message slice = probe(s, kTagPointSlice, &slice_status);
    if (received_bytes(slice_status) != size * sizeof(float))
      throw Error("server shard " + std::to_string(s) + " sent a point slice of " +
                  std::to_string(received_bytes(slice_status)) + " bytes, expected " +
                  std::to_string(size * sizeof(float)));
    check(MPI_Imrecv(point_.payload().data() + begin, float_count(size), MPI_FLOAT, &slice, &request), "MPI_Imrecv");
    wait(request, nullptr, backoff_);
  }

  // One gradient at the current point. Returns true when interrupted by a new message (then current).
  bool compute() {
    const PointMessage& point = point_;
    wait_sent();  // gradient_ is free
    const double begin = MPI_Wtime();
    const double loss = objective_.stochastic_gradient(point.payload(), gradient_.payload(), model_.samples());
    const double compute_s = MPI_Wtime() - begin;
    busy_s_ += compute_s;
    // Drawn for every started computation, interrupted or not, exactly as the simulator does, so the
    // k-th draw of worker i is the same in both engines.
    const double delay = model_.next_delay(compute_s);
    if (sleep_interruptibly(delay)) {
      take();
      if (!stopped_) acknowledge();
      return true;
    }
    // Rank 0's message: the whole gradient, or (sharded) the header and shard 0's slice, which follows
    // it in gradient_ (the padding to whole units is the next floats', ignored).
    const std::size_t bytes = shards_ > 1 ? shard0_gradient_bytes_ : gradient_.bytes();
    void* data = gradient_.data();
    int count = unit_count(bytes);
    MPI_Datatype type = unit_type();
    switch (model_.next_fault()) {
      case Fault::none: break;
      case Fault::hang: return hang();
      case Fault::nan: std::fill(gradient_.payload().begin(), gradient_.payload().end(), std::nanf("")); break;
      case Fault::truncate:
        // Half the bytes: not even a whole number of units.
        type = MPI_BYTE;
        count = static_cast<int>(std::min<std::size_t>(bytes / 2, std::numeric_limits<int>::max()));
        break;
      case Fault::oversize:
        // One unit more than the server expects.
        oversized_.assign(bytes + kUnitBytes, std::byte{0});
        std::memcpy(oversized_.data(), gradient_.data(), bytes);
        data = oversized_.data();
        count += 1;
        break;
    }
    // With one server it checks the gradient itself; shards see slices and must all reject the same ones.
    const bool finite = shards_ == 1 || std::all_of(gradient_.payload().begin(), gradient_.payload().end(),
                                                    [](float v) { return std::isfinite(v); });
    gradient_.set_header({point.header().version, loss, compute_s, delay, MPI_Wtime(), finite ? 1 : 0});
    if (data != gradient_.data()) std::memcpy(data, gradient_.data(), sizeof(GradientHeader));
    header_.set_header(gradient_.header());
    // The header first, on its own: the server orders the gradients waiting by it (protocol.hpp).
    check(MPI_Isend(header_.data(), 1, unit_type(), 0, kTagGradientHeader, comm_, &header_request_), "MPI_Isend");
    check(MPI_Isend(data, count, type, 0, kTagGradient, comm_, &send_request_), "MPI_Isend");
    for (int s = 1; s < shards_; ++s) {
      const auto at = static_cast<std::size_t>(s);
      const auto [offset, size] = slices_[at];
      check(MPI_Isend(header_.data(), 1, unit_type(), s, kTagGradientHeader, comm_, &slice_requests_[2 * at]),
            "MPI_Isend");
      check(MPI_Isend(gradient_.payload().data() + offset, float_count(size), MPI_FLOAT, s, kTagGradient, comm_,
                      &slice_requests_[2 * at + 1]),
            "MPI_Isend");
      ++slices_sent_[at];
    }
    return false;
  }

  // Waits until the last gradient, header and message(s), is sent.
  void wait_sent() {
    if (header_request_ != MPI_REQUEST_NULL) wait(header_request_, nullptr, backoff_);
    if (send_request_ != MPI_REQUEST_NULL) wait(send_request_, nullptr, backoff_);
    for (MPI_Request& r : slice_requests_)
      if (r != MPI_REQUEST_NULL) wait(r, nullptr, backoff_);
  }

  // Tells the server the point that just interrupted this worker's computation arrived: it is alive,
  // though it has no gradient to show for a while. At most one acknowledgement is on the wire: if the
  // last one is still there, this one adds nothing.
  void acknowledge() {
    if (ack_request_ != MPI_REQUEST_NULL) {
      int done = 0;
      check(MPI_Test(&ack_request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (!done) return;
    }
    ack_version_ = point_.header().version;
    check(MPI_Isend(&ack_version_, 1, MPI_INT64_T, 0, kTagAck, comm_, &ack_request_), "MPI_Isend");
  }

  // fault.inject = "hang": from now on the worker computes nothing and sends nothing, but still obeys
  // a stop, so the job ends cleanly.
  bool hang() {
    spdlog::warn("fault injection: worker {} hangs (sends nothing more)", worker_);
    while (!stopped_) {
      next_message();  // interrupts and new points are ignored; only a stop ends this
    }
    return true;
  }

  // Sleeps `seconds` in slices, testing for a new point between slices. Returns true if one arrived.
  bool sleep_interruptibly(double seconds) {
    const double slice = std::clamp(kSliceShare * seconds, kMinSliceS, kMaxSliceS);
    const double end = MPI_Wtime() + seconds;
    const double begin = MPI_Wtime();
    for (;;) {
      if (arrived()) {
        injected_s_ += MPI_Wtime() - begin;
        return true;
      }
      const double left = end - MPI_Wtime();
      if (left <= 0.0) break;
      Backoff(std::min(left, slice), slice).sleep();
    }
    injected_s_ += MPI_Wtime() - begin;
    return false;
  }

  // After the stop: let the last gradient land, report totals, leave nothing pending.
  void finish() {
    wait_sent();
    signal_.finish(backoff_);
    if (ack_request_ != MPI_REQUEST_NULL) wait(ack_request_, nullptr, backoff_);
    StatsMessage stats{busy_s_, injected_s_, peak_rss_bytes()};
    MPI_Request request;
    check(MPI_Isend(&stats, sizeof stats, MPI_BYTE, 0, kTagStats, comm_, &request), "MPI_Isend");
    wait(request, nullptr, backoff_);
    // Each follower shard drains the gradient slices it was sent until it has them all.
    for (int s = 1; s < shards_; ++s) {
      check(MPI_Isend(&slices_sent_[static_cast<std::size_t>(s)], 1, MPI_INT64_T, s, kTagStats, comm_, &request),
            "MPI_Isend");
      wait(request, nullptr, backoff_);
    }
  }

  MPI_Comm comm_;
  Objective& objective_;
  int worker_;
  int shards_;                   // server.shards: ranks 0 … shards_ − 1
  PointMessage point_;           // the point being worked on (the last one received)
  MPI_Message incoming_ = MPI_MESSAGE_NULL;  // the next one, probed and not yet received
  MPI_Status incoming_status_;
  GradientMessage gradient_;     // the gradient being computed / sent
  MPI_Request send_request_ = MPI_REQUEST_NULL;
  GradientMessage header_{0};    // its header, sent first (one unit)
  MPI_Request header_request_ = MPI_REQUEST_NULL;
  WorkerModel model_;
  Backoff backoff_;
  bool stopped_ = false;
  SignalReport signal_{comm_};
  std::int64_t ack_version_ = 0;
  MPI_Request ack_request_ = MPI_REQUEST_NULL;
  std::vector<std::byte> oversized_;  // fault.inject = "oversize": the too-long message
  // Sharded (shards_ > 1), per shard s:
  std::vector<std::pair<std::size_t, std::size_t>> slices_;  // its slice of x: (begin, size) in floats
  std::vector<PointHeader> point_headers_;                   // its last point header
  std::vector<MPI_Request> slice_requests_;                  // (2 each, s ≥ 1) its gradient header and slice sends
  std::vector<std::int64_t> slices_sent_;                    // gradients sent to it
  std::size_t shard0_gradient_bytes_ = 0;                       // rank 0's gradient message
  double busy_s_ = 0.0, injected_s_ = 0.0;
};

}  // namespace

int work(MPI_Comm comm, const Config& config, Objective& objective, int worker, std::uint32_t epoch,
         const ShardPlan* plan) {
  return WorkerLoop(comm, config, objective, worker, epoch, plan).run();
}

}  // namespace ringmaster::mpi
