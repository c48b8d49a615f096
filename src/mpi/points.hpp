// Sending points to workers without ever waiting on one of them: what the server (rank 0) and, with
// server.shards > 1, every follower shard do with the points of each Outcome (protocol.hpp). One
// implementation for both, so the leader's and the followers' sends follow the same rules.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "mpi/protocol.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster::mpi {

// Point messages of work, one per version of x still on its way to some worker, each shared read-only
// by every outbox that sends or stages it (MPI allows concurrent sends from one buffer): the server
// holds one copy of x per version in flight, not one per worker (docs/method.md §1 "Memory"). A buffer is
// reused once no outbox refers to it; the newest version's is kept until k advances, so an update
// followed by n assignments copies x once.
class PointBuffers {
 public:
  explicit PointBuffers(std::size_t floats) : floats_(floats) {}

  // The point of version k with parameters x (the newest buffer if it holds version k).
  std::shared_ptr<const PointMessage> point(std::int64_t k, std::span<const float> x) {
    if (newest_ && newest_->header().version == k) return newest_;
    newest_.reset();
    auto free = std::find_if(pool_.begin(), pool_.end(), [](const auto& p) { return p.use_count() == 1; });
    if (free == pool_.end()) free = pool_.insert(pool_.end(), std::make_shared<PointMessage>(floats_));
    newest_ = *free;
    newest_->set_header({k, kCommandWork, kStopDone});
    std::copy(x.begin(), x.end(), newest_->payload().begin());
    return newest_;
  }
  // Buffers allocated: the most versions in flight at once (+ the newest).
  std::size_t allocated() const { return pool_.size(); }

 private:
  std::size_t floats_;
  std::vector<std::shared_ptr<PointMessage>> pool_;  // every buffer; use_count() == 1: free
  std::shared_ptr<PointMessage> newest_;             // the last point made
};

// Points on their way to one worker: the one on the wire and, while that one has not been delivered,
// the newest one waiting behind it. A point above the eager limit is only delivered once the worker
// receives it, which a stopped, swapped-out or hung process never does: waiting for it would freeze
// service to every other worker, signals and checkpoints included. The send's request is in
// PointSender::requests_ (tested for all workers at once); `sending` is released when it completes.
struct Outbox {
  std::shared_ptr<const PointMessage> sending;  // on the wire while the request is pending
  std::shared_ptr<const PointMessage> staged;   // the newest point not yet sent, or null
};

// The points of (x, k) for `workers` workers; worker w (1-based) is rank w + first_rank − 1 of `comm`.
// `split` (a sharded server, protocol.hpp): each point goes as its header (one unit, kTagPoint) and its
// slice (floats, kTagPointSlice), two messages from the one buffer, so that the worker receives the
// slice straight into its place in x, contiguous (Open MPI moves a contiguous message in one copy; a
// derived datatype would be packed in fragments, each waiting for the sender's next MPI call).
class PointSender {
 public:
  PointSender(MPI_Comm comm, int workers, int first_rank, std::size_t floats, bool split = false)
      : comm_(comm),
        first_rank_(first_rank),
        stride_(split ? 2 : 1),
        points_(floats),
        outboxes_(static_cast<std::size_t>(workers)),
        requests_(static_cast<std::size_t>(workers * stride_), MPI_REQUEST_NULL),
        completed_(static_cast<std::size_t>(workers * stride_)) {}

  // Sends (x, k), or a stop, to `worker`, never waiting for it. If its previous point is still on the
  // wire, this one is staged behind it (progress() sends it once that one is delivered), replacing any
  // point staged before: only the newest matters, it is the version the Server recorded for the worker
  // (a gradient computed at an older one is superseded), and the worker would abandon an older point
  // for it at once anyway (docs/method.md §4). The point of version k is the buffer every worker
  // assigned version k shares (PointBuffers): x is copied once per version.
  void send(int worker, std::int64_t k, std::span<const float> x, Command command, StopReason reason) {
    std::shared_ptr<const PointMessage> point = command == kCommandWork ? points_.point(k, x) : stop_message(k, reason);
    Outbox& box = outboxes_[at(worker)];
    if (on_the_wire(worker)) {
      if (!box.staged) ++staged_;
      box.staged = std::move(point);
      return;
    }
    if (box.staged) {  // its predecessor was delivered since the last look: it is older than this one
      box.staged.reset();
      --staged_;
    }
    box.sending = std::move(point);
    post(worker);
  }

  // Delivers an outcome: the current point to every worker it assigns, a stop to every worker it retires.
  void send(const Outcome& outcome, std::int64_t k, std::span<const float> x) {
    for (int worker : outcome.assign) send(worker, k, x, kCommandWork, kStopDone);
    for (int worker : outcome.retired) send(worker, k, x, kCommandStop, kStopRetired);
  }

  // Takes note of every send completed since the last look.
  void progress() {
    int count = 0;
    check(MPI_Testsome(static_cast<int>(requests_.size()), requests_.data(), &count, completed_.data(),
                       MPI_STATUSES_IGNORE),
          "MPI_Testsome");
    if (count == MPI_UNDEFINED) return;
    for (int i = 0; i < count; ++i) {
      const int worker = completed_[static_cast<std::size_t>(i)] / stride_ + 1;
      if (!pending(worker)) sent(worker);  // both messages of a split point completed
    }
  }

  // True when nothing is on the wire to this worker or staged for it; a point staged behind a send
  // found complete is sent.
  bool delivered(int worker) {
    if (on_the_wire(worker)) return false;
    if (!outboxes_[at(worker)].staged) return true;
    sent(worker);
    return false;
  }

  // delivered() for every worker, and nothing staged.
  bool all_delivered() {
    bool all = true;
    for (int w = 1; w <= static_cast<int>(outboxes_.size()); ++w) all = delivered(w) && all;
    return all && staged_ == 0;
  }

  std::size_t buffers_allocated() const { return points_.allocated(); }

 private:
  std::size_t at(int worker) const { return static_cast<std::size_t>(worker - 1); }

  // A stop: a header-only message (one unit), made when sent.
  static std::shared_ptr<const PointMessage> stop_message(std::int64_t k, StopReason reason) {
    auto stop = std::make_shared<PointMessage>(0);
    stop->set_header({k, kCommandStop, reason});
    return stop;
  }

  // True while the send to `worker` is in progress (tests it: never waits). A completed send's point
  // is released.
  bool on_the_wire(int worker) {
    if (!pending(worker)) return false;
    for (int i = 0; i < stride_; ++i) {
      MPI_Request& request = requests_[at(worker) * static_cast<std::size_t>(stride_) + static_cast<std::size_t>(i)];
      if (request == MPI_REQUEST_NULL) continue;
      int done = 0;
      check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (!done) return true;
    }
    outboxes_[at(worker)].sending.reset();
    return false;
  }

  // A request of the send to `worker` has not completed (nor been tested complete).
  bool pending(int worker) const {
    for (int i = 0; i < stride_; ++i)
      if (requests_[at(worker) * static_cast<std::size_t>(stride_) + static_cast<std::size_t>(i)] != MPI_REQUEST_NULL)
        return true;
    return false;
  }

  // The send to `worker` completed: its point is released (a version's buffer is freed once its last
  // send completes) and the point staged behind it, if any, is sent.
  void sent(int worker) {
    Outbox& box = outboxes_[at(worker)];
    box.sending.reset();
    if (!box.staged) return;
    box.sending = std::move(box.staged);
    box.staged.reset();
    --staged_;
    post(worker);
  }

  void post(int worker) {
    const PointMessage& m = *outboxes_[at(worker)].sending;  // a stop is one unit: its header
    const int rank = worker + first_rank_ - 1;
    MPI_Request* requests = &requests_[at(worker) * static_cast<std::size_t>(stride_)];
    if (stride_ == 1) {
      check(MPI_Isend(m.data(), m.units(), unit_type(), rank, kTagPoint, comm_, &requests[0]), "MPI_Isend");
      return;
    }
    check(MPI_Isend(m.data(), 1, unit_type(), rank, kTagPoint, comm_, &requests[0]), "MPI_Isend");
    if (m.header().command == kCommandWork)
      check(MPI_Isend(m.payload().data(), float_count(m.payload().size()), MPI_FLOAT, rank, kTagPointSlice, comm_,
                      &requests[1]),
            "MPI_Isend");
  }

  MPI_Comm comm_;
  int first_rank_;
  int stride_;                         // requests per worker: 1, or 2 when split
  PointBuffers points_;                // one per version in flight
  std::vector<Outbox> outboxes_;       // per worker: points on their way to it
  std::vector<MPI_Request> requests_;  // per worker (stride_ each): its outbox's send
  int staged_ = 0;                     // outboxes holding a staged point
  std::vector<int> completed_;         // Testsome scratch
};

}  // namespace ringmaster::mpi
