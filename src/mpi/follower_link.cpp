#include "mpi/follower_link.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include "ringmaster/error.hpp"

namespace ringmaster::mpi {

FollowerLink::FollowerLink(MPI_Comm comm, int shards, std::function<std::string()> resume_hint)
    : comm_(comm),
      shards_(shards),
      resume_hint_(std::move(resume_hint)),
      report_(static_cast<std::size_t>(shards - 1), 0),
      report_requests_(static_cast<std::size_t>(shards - 1), MPI_REQUEST_NULL),
      taken_(static_cast<std::size_t>(shards - 1), 0),
      since_(static_cast<std::size_t>(shards - 1), MPI_Wtime()),
      warned_(static_cast<std::size_t>(shards - 1), 0),
      last_watch_(MPI_Wtime()) {
  for (int s = 1; s < shards_; ++s) post_report_receive(s);
}

void FollowerLink::post_report_receive(int shard) {
  check(MPI_Irecv(&report_[at(shard)], 1, MPI_INT64_T, shard, kTagShardProgress, comm_, &report_requests_[at(shard)]),
        "MPI_Irecv");
}

void FollowerLink::decide(const Decision& d) {
  const double t = MPI_Wtime();
  for (int s = 1; s < shards_; ++s) {
    if (taken_[at(s)] == sent_) since_[at(s)] = t;  // it had nothing to do: its silence counts from now
    PendingDecision& p = pending_.emplace_back();
    std::memcpy(p.unit, &d, sizeof d);
    check(MPI_Isend(p.unit, 1, unit_type(), s, kTagDecision, comm_, &p.request), "MPI_Isend");
  }
  ++sent_;
}

void FollowerLink::progress() {
  // In order: a follower takes them in order.
  while (!pending_.empty()) {
    int done = 0;
    check(MPI_Test(&pending_.front().request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (!done) break;
    pending_.pop_front();
  }
  const double t = MPI_Wtime();
  for (int s = 1; s < shards_; ++s) {
    for (;;) {
      int done = 0;
      check(MPI_Test(&report_requests_[at(s)], &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (!done) break;
      if (report_[at(s)] > taken_[at(s)]) {
        if (warned_[at(s)])
          spdlog::info("server shard {} (rank {}) takes the leader's decisions again, after {:.1f} s", s, s,
                       t - since_[at(s)]);
        taken_[at(s)] = report_[at(s)];
        since_[at(s)] = t;
        warned_[at(s)] = 0;
      }
      post_report_receive(s);
    }
  }
  const double gap = t - last_watch_;
  last_watch_ = t;
  if (gap > 1.0) {
    // This rank was not watching (a long checkpoint write, or every rank stopped and continued): the
    // followers' reports of that time may still be on their way, so their silence counts from now.
    for (double& since : since_) since = t;
    return;
  }
  for (int s = 1; s < shards_; ++s) {
    if (taken_[at(s)] >= sent_) continue;
    const double silent = t - since_[at(s)];
    if (silent > kFollowerGoneS)
      throw Error("server shard " + std::to_string(s) + " (rank " + std::to_string(s) + ") has taken none of its " +
                  std::to_string(sent_ - taken_[at(s)]) + " waiting decisions for " +
                  std::to_string(static_cast<int>(kFollowerGoneS)) +
                  " s (stopped or hung): the run cannot go on without its blocks, and no checkpoint can be written "
                  "without them; " + resume_hint_());
    if (silent > kFollowerSilentS && !warned_[at(s)]) {
      warned_[at(s)] = 1;
      spdlog::warn("server shard {} (rank {}) has taken none of its {} waiting decisions for {:.1f} s (stopped or "
                   "hung?): no worker can start on a point without its slice; the job ends if it stays silent for "
                   "{:.0f} s",
                   s, s, sent_ - taken_[at(s)], silent, kFollowerGoneS);
    }
  }
}

bool FollowerLink::idle() const {
  if (!pending_.empty()) return false;
  for (std::int64_t taken : taken_)
    if (taken < sent_) return false;
  return true;
}

std::string FollowerLink::behind() const {
  std::string shards;
  for (int s = 1; s < shards_; ++s)
    if (taken_[at(s)] < sent_) shards += (shards.empty() ? "" : ", ") + std::to_string(s);
  return shards;
}

void FollowerLink::close(Backoff& backoff) {
  for (MPI_Request& r : report_requests_) {
    if (r == MPI_REQUEST_NULL) continue;
    check(MPI_Cancel(&r), "MPI_Cancel");
    wait(r, nullptr, backoff);
  }
}

}  // namespace ringmaster::mpi
