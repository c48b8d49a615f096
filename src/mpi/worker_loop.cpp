// Ranks 1..n: compute a gradient at the point the server sent, add the injected delay of docs/method.md §5,
// send it, repeat — what the worker draws and does wrong is its WorkerModel's (worker_model.hpp), the
// same as in the simulator; this loop is the transport. A receive for the next point is always posted (double-buffered), so a point that
// arrives mid-computation interrupts it within one polling slice, even inside a long injected delay.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/run.hpp"
#include "ringmaster/worker_model.hpp"

namespace ringmaster::mpi {
namespace {

// While idle, the worker polls for its next point from 20 µs backing off to 1 ms (the reply to a
// gradient usually comes within a few polls). Inside an injected delay it sleeps in slices of at most
// 2 ms, so an interrupt or stop is honoured within ~2 ms while each sleeping worker costs 500 wake-ups
// a second. The trade (docs/benchmarks.md "Runtime efficiency"): with 5 ms slices an interrupted worker
// started its new point 2.7 ms late on average, 10% of a gradient of the 16-worker quadratic; 2 ms
// make it 1.6 ms, and the 16-worker job's CPU / wall 0.136 → 0.163 (1 ms slices: 0.3 of a core).
constexpr double kMinPollS = 20e-6;
constexpr double kMaxPollS = 1e-3;
constexpr double kSliceS = 2e-3;

class WorkerLoop {
 public:
  WorkerLoop(MPI_Comm comm, const Config& config, Objective& objective, int worker, std::uint32_t epoch)
      : comm_(comm),
        objective_(objective),
        worker_(worker),
        points_{PointMessage(objective.layout().size()), PointMessage(objective.layout().size())},
        gradient_(objective.layout().size()),
        model_(config, worker, epoch, objective.training_examples()),
        backoff_(kMinPollS, kMaxPollS) {}

  int run() {
    answer_clock_handshake();
    post_receive();
    next_message();
    while (!stopped_) {
      if (compute()) continue;  // interrupted: the new point (or a stop) is already current
      next_message();
    }
    finish();
    switch (points_[current_].header().reason) {
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

  void post_receive() {
    PointMessage& m = points_[receiving_];
    check(MPI_Irecv(m.data(), m.units(), unit_type(), 0, kTagPoint, comm_, &receive_request_), "MPI_Irecv");
  }

  // True when a new message has arrived in the posted receive. Also passes on a signal this process
  // got (Slurm signals every task, a user may kill one rank): the server decides to stop.
  bool arrived() {
    report_signal();
    int done = 0;
    check(MPI_Test(&receive_request_, &done, MPI_STATUS_IGNORE), "MPI_Test");
    return done != 0;
  }

  void report_signal() {
    if (signal_reported_ || stop_signal() == 0) return;
    signal_reported_ = true;
    signal_ = stop_signal();
    check(MPI_Isend(&signal_, 1, MPI_INT, 0, kTagSignal, comm_, &signal_request_), "MPI_Isend");
  }

  // Waits (without spinning) for the next message and makes it current.
  void next_message() {
    backoff_.reset();
    while (!arrived()) backoff_.sleep();
    take();
  }

  // The message that just arrived becomes current; the other buffer takes the next receive.
  void take() {
    current_ = receiving_;
    receiving_ = 1 - receiving_;
    if (points_[current_].header().command == kCommandStop) {
      stopped_ = true;
      return;
    }
    post_receive();
  }

  // One gradient at the current point. Returns true when interrupted by a new message (then current).
  bool compute() {
    const PointMessage& point = points_[current_];
    if (send_request_ != MPI_REQUEST_NULL) wait(send_request_, nullptr, backoff_);  // gradient_ is free
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
    gradient_.set_header({point.header().version, loss, compute_s, delay, MPI_Wtime()});
    void* data = gradient_.data();
    int count = gradient_.units();
    MPI_Datatype type = unit_type();
    switch (model_.next_fault()) {
      case Fault::none: break;
      case Fault::hang: return hang();
      case Fault::nan: std::fill(gradient_.payload().begin(), gradient_.payload().end(), std::nanf("")); break;
      case Fault::truncate:
        // Half the bytes: not even a whole number of units.
        type = MPI_BYTE;
        count = static_cast<int>(std::min<std::size_t>(gradient_.bytes() / 2, std::numeric_limits<int>::max()));
        break;
      case Fault::oversize:
        // One unit more than the server expects.
        oversized_.assign(gradient_.bytes() + kUnitBytes, std::byte{0});
        std::memcpy(oversized_.data(), gradient_.data(), gradient_.bytes());
        data = oversized_.data();
        count += 1;
        break;
    }
    check(MPI_Isend(data, count, type, 0, kTagGradient, comm_, &send_request_), "MPI_Isend");
    return false;
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
    ack_version_ = points_[current_].header().version;
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
    const double end = MPI_Wtime() + seconds;
    const double begin = MPI_Wtime();
    for (;;) {
      if (arrived()) {
        injected_s_ += MPI_Wtime() - begin;
        return true;
      }
      const double left = end - MPI_Wtime();
      if (left <= 0.0) break;
      Backoff(std::min(left, kSliceS), kSliceS).sleep();
    }
    injected_s_ += MPI_Wtime() - begin;
    return false;
  }

  // After the stop: let the last gradient land, report totals, leave nothing pending.
  void finish() {
    if (send_request_ != MPI_REQUEST_NULL) wait(send_request_, nullptr, backoff_);
    if (signal_request_ != MPI_REQUEST_NULL) wait(signal_request_, nullptr, backoff_);
    if (ack_request_ != MPI_REQUEST_NULL) wait(ack_request_, nullptr, backoff_);
    StatsMessage stats{busy_s_, injected_s_};
    MPI_Request request;
    check(MPI_Isend(&stats, sizeof stats, MPI_BYTE, 0, kTagStats, comm_, &request), "MPI_Isend");
    wait(request, nullptr, backoff_);
  }

  MPI_Comm comm_;
  Objective& objective_;
  int worker_;
  PointMessage points_[2];       // double buffer: one being worked on, one receiving
  int current_ = 0, receiving_ = 0;
  MPI_Request receive_request_ = MPI_REQUEST_NULL;
  GradientMessage gradient_;     // the gradient being computed / sent
  MPI_Request send_request_ = MPI_REQUEST_NULL;
  WorkerModel model_;
  Backoff backoff_;
  bool stopped_ = false;
  bool signal_reported_ = false;
  int signal_ = 0;
  MPI_Request signal_request_ = MPI_REQUEST_NULL;
  std::int64_t ack_version_ = 0;
  MPI_Request ack_request_ = MPI_REQUEST_NULL;
  std::vector<std::byte> oversized_;  // fault.inject = "oversize": the too-long message
  double busy_s_ = 0.0, injected_s_ = 0.0;
};

}  // namespace

int work(MPI_Comm comm, const Config& config, Objective& objective, int worker, std::uint32_t epoch) {
  return WorkerLoop(comm, config, objective, worker, epoch).run();
}

}  // namespace ringmaster::mpi
