// The leader's link to a sharded server's followers, ranks 1 … S − 1 (docs/method.md §7 "Sharded
// server"): the decision stream it sends them, and what they say back about it — how many decisions
// each has taken (kTagShardProgress, protocol.hpp). Followers are held to the liveness rule of every
// other rank, adapted to what a follower is: without its slices no worker can start on a point, so a
// follower that stops taking decisions stops the training. One that has decisions waiting and takes
// none for kFollowerSilentS is named in a warning; one silent for kFollowerGoneS ends the job (Error:
// exit 1), since the run cannot go on without its blocks and no checkpoint can be written without its
// slices — the last checkpoint written is what --resume continues from.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "mpi/protocol.hpp"

namespace ringmaster::mpi {

// A follower with decisions waiting that has taken none for this long is warned about, and for this long
// ends the job. A follower takes each decision within one Server call of its own blocks (milliseconds;
// a few seconds for a model far larger than any here), so this is far beyond any healthy delay, and far
// short of the minute the workers' own timeouts allow; a follower paused for less (SIGSTOP, then SIGCONT)
// is picked up again where it was.
inline constexpr double kFollowerSilentS = 5.0;
inline constexpr double kFollowerGoneS = 30.0;

class FollowerLink {
 public:
  // `shards`: S (ranks 1 … S − 1 follow). `resume_hint`: what the job leaves to continue from, for the
  // message that ends it (Run::resume_hint).
  FollowerLink(MPI_Comm comm, int shards, std::function<std::string()> resume_hint);

  // Sends one decision to every follower, never waiting: decisions are one unit each, sent eagerly.
  void decide(const Decision& d);
  // Releases the decisions whose sends completed, hears the followers' reports, and applies the liveness
  // rule above (throws Error for a follower gone). Call it from every loop that waits while followers
  // have work: time this rank spends elsewhere for more than a second (a long checkpoint write, or the
  // whole job stopped and continued) restarts the followers' silence clocks instead of counting against
  // them.
  void progress();
  // Every decision sent has left, and every follower has said it took them all (after the stop, its last
  // report).
  bool idle() const;
  // Followers that have not yet taken every decision, as "1, 3" (for a message).
  std::string behind() const;
  // After the stop, once idle(): cancels the receives of reports no follower will send.
  void close(Backoff& backoff);

 private:
  std::size_t at(int shard) const { return static_cast<std::size_t>(shard - 1); }
  void post_report_receive(int shard);

  MPI_Comm comm_;
  int shards_;
  std::function<std::string()> resume_hint_;
  // Decisions on their way to the followers (one unit each; a deque keeps their addresses).
  struct PendingDecision {
    alignas(64) std::byte unit[kUnitBytes] = {};
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::deque<PendingDecision> pending_;
  std::int64_t sent_ = 0;  // decisions sent to each follower, every kind
  // Per follower (shard s at s − 1):
  std::vector<std::int64_t> report_;      // the report being received
  std::vector<MPI_Request> report_requests_;
  std::vector<std::int64_t> taken_;       // decisions it has said it took
  std::vector<double> since_;             // MPI_Wtime from which its silence counts: its last report that
                                          // said more, or the decision that gave it work when it had none
  std::vector<char> warned_;              // silent for kFollowerSilentS, said so
  double last_watch_ = 0.0;               // MPI_Wtime of the last progress()
};

}  // namespace ringmaster::mpi
