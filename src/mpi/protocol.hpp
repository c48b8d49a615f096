// The MPI protocol between the server (rank 0) and the workers (ranks 1..n): tags, message layouts
// and the preallocated buffers they travel in. Declared here once; nothing else defines a message.
//
//   server → worker  kTagPoint           PointHeader    + x  (layout.size floats; a stop: the header only)
//   worker → server  kTagGradientHeader  GradientHeader       (one unit, announces the gradient that follows)
//   worker → server  kTagGradient        GradientHeader + g  (layout.size floats)
//   worker → server  kTagStats           StatsMessage        (after a stop)
//   worker → server  kTagSignal    int                       (the worker's process got SIGTERM/INT/HUP/USR1)
//   worker → server  kTagAck       int64                     (version of a point that interrupted it)
//   both ways        kTagClock     double                    (clock offset handshake at start)
//
// With server.shards = S > 1 (docs/method.md §7 "Sharded server") ranks 0 … S − 1 are server shards and
// ranks S … N − 1 the workers (worker w is rank w + S − 1). Shard s owns the floats [begin(s), end(s)) of
// x (ShardPlan); points and gradients then carry one shard's slice instead of the whole x, between a
// worker and that shard, as two messages where the slice lies inside a whole buffer, so that every
// x-sized transfer is contiguous (one copy in Open MPI; a derived datatype is packed in fragments that
// each wait for the sender's next MPI call):
//   shard → worker   kTagPoint + kTagPointSlice   PointHeader (one unit), then its slice of x (floats;
//                                                 none after a stop)
//   worker → rank 0  kTagGradientHeader + kTagGradient   as above, the message with shard 0's slice
//   worker → shard s ≥ 1  kTagGradientHeader + kTagGradient   GradientHeader (one unit), then slice s
//                                                 of g (floats)
// Rank 0, the leader, alone gets acks, signals and clock handshakes, decides, and streams its decisions
// to the other shards, the followers:
//   leader → follower  kTagDecision    Decision           (every Server call in the leader's order)
//   follower → leader  kTagShardProgress int64            (decisions taken so far: how the leader knows it
//                                                         is alive, docs/method.md §7; the last one after
//                                                         its stop)
//   follower → leader  kTagSignal      int                (its process got a stop signal, as a worker's)
//   follower → leader  kTagShardSlice  floats             (x, then m and the method's sum, for a gather)
//   leader → follower  kTagShardSlice  ShardState + floats (a resume: k, counters, the slices of x, m, sum)
//   worker → follower  kTagStats       int64              (after a stop: the gradients it sent to it)
// A follower takes the n-th gradient slice of worker w as the n-th gradient of w the leader decided on
// (MPI's non-overtaking order per sender, tag and communicator), superseded, rejected and dropped ones
// included; it runs a Server over its blocks fed the same calls, and checks that its outcome is the
// leader's (Decision::outcome_hash).
//
// A point sent while the worker is still computing is an interrupt: the worker abandons its
// computation and starts on the new point (docs/method.md §4), and acknowledges it, so that a worker interrupted
// again and again before it can finish a gradient is still heard from (fault.worker_timeout_s). The
// last point a worker gets has command stop, with the reason in `reason`.
//
// Memory (docs/method.md §1 "Memory"): x-sized buffers are not kept per worker. The server makes one point
// buffer per version and shares it, read-only, among every worker it goes to; it receives gradients
// one at a time into one buffer, in the order their headers say they were sent: a gradient's header
// travels first as a one-unit message of its own, so the server can order the gradients that are
// waiting without holding their payloads. A worker holds two buffers, the point it computes at and its
// gradient. It receives a point only when it is ready to leave the one it has (probed, not received in
// advance): after sending its gradient, or when the point interrupts its computation.
//
// Points and gradients travel in units of 64 bytes (unit_type(): an MPI_Type_contiguous of 64 MPI_BYTE),
// so MPI's int counts cover messages up to 128 GiB; all sizes are size_t. The server probes each
// gradient message before receiving it into a buffer of its own size: one of the wrong length is
// rejected, never truncated (server_loop.cpp). The loops talk on their own communicator (a duplicate of
// MPI_COMM_WORLD) whose errors return to the caller, which throws an Error naming the call.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace ringmaster {
struct Outcome;
}

namespace ringmaster::mpi {

enum Tag : int {
  kTagPoint = 101,
  kTagGradient = 102,
  kTagStats = 103,
  kTagClock = 104,
  kTagSignal = 105,
  kTagAck = 106,
  kTagGradientHeader = 107,
  kTagDecision = 108,
  kTagShardSlice = 109,
  kTagPointSlice = 110,
  kTagShardProgress = 111,
};

enum Command : std::int32_t { kCommandWork = 1, kCommandStop = 2 };

// Why a worker is stopped: decides its exit code.
enum StopReason : std::int32_t { kStopDone = 0, kStopSignal = 1, kStopRetired = 2 };

struct PointHeader {
  std::int64_t version;   // k of the point that follows
  std::int32_t command;   // kCommandWork or kCommandStop (then no work follows)
  std::int32_t reason;    // StopReason, with kCommandStop
};

struct GradientHeader {
  std::int64_t version;   // version of the point the gradient was computed at
  double loss;            // sample loss f(x; ξ) − f*
  double compute_s;       // real compute seconds of this gradient
  double injected_s;      // injected delay seconds of this gradient
  double sent_at;         // MPI_Wtime of the worker when sent (the server corrects for clock offset)
  std::int32_t finite;    // 1 when every entry of the whole gradient is finite (sharded: each shard sees a
                          // slice, and all must reject the same arrivals); always 1 with one shard
  std::int32_t unused = 0;
};

// What the leader's Server was asked, in the order it was asked (sharded server, docs/method.md §7).
enum DecisionKind : std::int32_t {
  kDecideStart = 1,      // Server::start
  kDecideGradient = 2,   // Server::on_gradient on the worker's next gradient slice, sent before the leader
                         // applies it (so that the shards update side by side); its kDecideOutcome follows
  kDecideMalformed = 3,  // Server::on_malformed; the worker's next gradient slice is drained
  kDecideDrop = 4,       // the worker is retired: its next gradient slice is drained, nothing else
  kDecideRetire = 5,     // Server::retire
  kDecideGather = 6,     // send x (and with `state`, m and the method's sum) at version `version` to rank 0
  kDecideStop = 7,       // stop every worker with `reason` and shut down
  kDecideOutcome = 8,    // the leader's outcome of the kDecideGradient before it
};

struct Decision {
  std::int32_t kind;          // DecisionKind
  std::int32_t worker;        // 1-based, for the kinds about one worker
  std::int64_t version;       // kDecideGradient: the gradient's version; kDecideGather: k
  std::int64_t k;             // the leader's k after the call (not in a kDecideGradient)
  std::uint64_t outcome_hash; // outcome_hash() of the leader's Outcome (not in a kDecideGradient)
  std::int32_t action;        // the leader's Outcome::action, an Action (not in a kDecideGradient)
  std::int32_t flag;          // kDecideGather: 1 with m and the sum; kDecideStop: the StopReason
};

// What a follower needs of a checkpoint to resume (then its slices of x, m and, with `sum`, the sum).
struct ShardState {
  std::int64_t k;
  std::int64_t method_count;  // MethodState::count
  std::int32_t sum;           // 1 when MethodState::sum follows
  std::int32_t workers;       // WorkerCounters follow, one per worker
};

// A worker's totals at shutdown (the server counts interrupts itself: it orders them).
struct StatsMessage {
  double busy_s;      // total real compute seconds, abandoned work included
  double injected_s;  // total injected seconds, abandoned work included
  double peak_rss_bytes;  // the worker process's peak resident memory (getrusage ru_maxrss)
};

// Transfer unit: a message's size is padded to a multiple of it, and counted in it.
constexpr std::size_t kUnitBytes = 64;

// Bytes of a message with a `header_bytes` header and `floats` parameters, padded to whole units.
constexpr std::size_t message_bytes(std::size_t header_bytes, std::size_t floats) {
  const std::size_t raw = header_bytes + floats * sizeof(float);
  return (raw + kUnitBytes - 1) / kUnitBytes * kUnitBytes;
}

// The count MPI is given for `bytes` (a multiple of kUnitBytes). Throws Error beyond MPI's int range.
int unit_count(std::size_t bytes);

// `floats` as an MPI count of MPI_FLOAT (a shard's slice in a gather). Throws Error beyond MPI's int range.
int float_count(std::size_t floats);

// The committed MPI datatype of one unit (created on first use, after MPI_Init).
MPI_Datatype unit_type();

// Bytes of the message a probe or a completed receive describes (64-bit: MPI_Get_elements_x counts
// the MPI_BYTEs of unit_type(), a partial last unit included).
std::size_t received_bytes(const MPI_Status& status);

// This process's peak resident memory so far, in bytes (getrusage ru_maxrss).
double peak_rss_bytes();

// One message: a header followed by `floats` parameters, in one 64-byte aligned allocation padded to
// whole units, so a message is a single transfer and nothing is allocated per message.
template <class Header>
class Message {
 public:
  explicit Message(std::size_t floats)
      : floats_(floats),
        bytes_(message_bytes(sizeof(Header), floats)),
        storage_(new (std::align_val_t(64)) std::byte[bytes_]) {
    static_assert(sizeof(Header) % alignof(float) == 0);
    static_assert(sizeof(Header) <= kUnitBytes, "a header-only message is one unit");
    std::memset(storage_.get(), 0, bytes_);
  }

  Header header() const {
    Header h;
    std::memcpy(&h, storage_.get(), sizeof h);
    return h;
  }
  void set_header(const Header& h) { std::memcpy(storage_.get(), &h, sizeof h); }
  std::span<float> payload() { return {reinterpret_cast<float*>(storage_.get() + sizeof(Header)), floats_}; }
  std::span<const float> payload() const {
    return {reinterpret_cast<const float*>(storage_.get() + sizeof(Header)), floats_};
  }
  void* data() { return storage_.get(); }
  const void* data() const { return storage_.get(); }
  std::size_t bytes() const { return bytes_; }
  int units() const { return unit_count(bytes_); }

 private:
  struct Free {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::size_t floats_;
  std::size_t bytes_;  // a multiple of kUnitBytes
  std::unique_ptr<std::byte[], Free> storage_;
};

using PointMessage = Message<PointHeader>;
using GradientMessage = Message<GradientHeader>;

// FNV-1a over what an Outcome says (action, updated, assign, interrupted, retired): the sharded server's
// followers check theirs against the leader's with it.
std::uint64_t outcome_hash(const Outcome& outcome);

// Open MPI's blocking waits busy-poll (on sched_yield when oversubscribed), burning a core per waiting
// rank. Every wait in Ringmaster goes through this instead: test, and sleep between tests, the sleep
// growing by `growth` from `min_sleep_s` to `max_sleep_s`. A message that lands during a sleep is seen
// at most (growth − 1) × the time already waited late. reset() after activity starts over.
class Backoff {
 public:
  Backoff(double min_sleep_s, double max_sleep_s, double growth = 1.25)
      : min_(min_sleep_s), max_(max_sleep_s), growth_(growth), current_(min_sleep_s) {}
  void sleep();
  void reset() { current_ = min_; }
  // Sleeps its longest from the next sleep on: after activity that makes the next event unlikely to come
  // soon, where every short sleep of a restart would be a wake-up for nothing.
  void hold() { current_ = max_; }
  void set_max(double max_sleep_s) { max_ = max_sleep_s; }

 private:
  double min_, max_, growth_, current_;
};

// A stop signal this process got (SIGTERM, SIGINT, SIGHUP, SIGUSR1: Slurm signals every task, a user may
// signal one rank), passed on to rank 0, which stops the whole job with a checkpoint (docs/method.md §10).
// What a worker and a follower shard both do between their waits: poll() sends it once, the first time
// there is one; finish() waits until that message has left, before the process leaves its loop.
class SignalReport {
 public:
  explicit SignalReport(MPI_Comm comm) : comm_(comm) {}
  void poll();
  void finish(Backoff& backoff);

 private:
  MPI_Comm comm_;
  int signal_ = 0;  // the signal reported (the send reads it until it completes)
  MPI_Request request_ = MPI_REQUEST_NULL;
};

// Makes this process's sleeps end on time: the default 50 µs timer slack would add that much to every
// poll interval and injected-delay slice.
void tighten_timer_slack();

// MPI_Improbe that also sees a message its own call brings in: true when one from `source` with `tag` is
// matched into `message`. Open MPI's ob1 (pml_ob1_iprobe.c) matches first and, on a miss, only then
// progresses the transport, so a message that this progress pulls in is matched by the next probe, one
// polling interval later: inside a worker's 2 ms injected-delay slices that was 2 ms added to every
// interrupt (docs/benchmarks.md "Runtime efficiency"). After a miss it probes once more at once.
bool improbe(int source, int tag, MPI_Comm comm, MPI_Message* message, MPI_Status* status);

// Waits until `request` completes, without spinning.
void wait(MPI_Request& request, MPI_Status* status, Backoff& backoff);
// The same with a deadline (MPI_Wtime): false if it passed first (the request is still pending).
bool wait_until(MPI_Request& request, double deadline, Backoff& backoff);

// The loops' communicator: a duplicate of MPI_COMM_WORLD (same ranks) with MPI_ERRORS_RETURN. Collective.
MPI_Comm make_loop_comm();

// Identifies the protocol this binary speaks: the project version and the message layouts. Ranks of one
// job must agree on it (a stale binary on one node would misread every message).
std::uint64_t protocol_fingerprint();

// Throws Error naming the call when an MPI call fails.
void check(int code, const char* call);

}  // namespace ringmaster::mpi
