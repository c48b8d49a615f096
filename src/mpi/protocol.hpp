// The MPI protocol between the server (rank 0) and the workers (ranks 1..n): tags, message layouts
// and the preallocated buffers they travel in. Declared here once; nothing else defines a message.
//
//   server → worker  kTagPoint     PointHeader    + x        (layout.size floats)
//   worker → server  kTagGradient  GradientHeader + g        (layout.size floats)
//   worker → server  kTagStats     StatsMessage              (after a stop)
//   worker → server  kTagSignal    int                       (the worker's process got SIGTERM/INT/USR1)
//   both ways        kTagClock     double                    (clock offset handshake at start)
//
// A point sent while the worker is still computing is an interrupt: the worker abandons its
// computation and starts on the new point (SPEC §4). The last point a worker gets has command stop,
// with the reason in `reason`.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <span>

namespace ringmaster::mpi {

enum Tag : int { kTagPoint = 101, kTagGradient = 102, kTagStats = 103, kTagClock = 104, kTagSignal = 105 };

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
};

// A worker's totals at shutdown (the server counts interrupts itself: it orders them).
struct StatsMessage {
  double busy_s;      // total real compute seconds, abandoned work included
  double injected_s;  // total injected seconds, abandoned work included
};

// One message: a header followed by `floats` parameters, in one 64-byte aligned allocation so a
// message is a single MPI_BYTE transfer and nothing is allocated per message.
template <class Header>
class Message {
 public:
  explicit Message(std::size_t floats)
      : floats_(floats),
        bytes_(sizeof(Header) + floats * sizeof(float)),
        storage_(new (std::align_val_t(64)) std::byte[bytes_]) {
    static_assert(sizeof(Header) % alignof(float) == 0);
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
  int bytes() const { return static_cast<int>(bytes_); }

 private:
  struct Free {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::size_t floats_;
  std::size_t bytes_;
  std::unique_ptr<std::byte[], Free> storage_;
};

using PointMessage = Message<PointHeader>;
using GradientMessage = Message<GradientHeader>;

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
  void set_max(double max_sleep_s) { max_ = max_sleep_s; }

 private:
  double min_, max_, growth_, current_;
};

// Makes this process's sleeps end on time: the default 50 µs timer slack would add that much to every
// poll interval and injected-delay slice.
void tighten_timer_slack();

// Waits until `request` completes, without spinning.
void wait(MPI_Request& request, MPI_Status* status, Backoff& backoff);

// Throws Error naming the call when an MPI call fails.
void check(int code, const char* call);

// SIGTERM, SIGINT and SIGUSR1 (Slurm's --signal=B:USR1@…, mpirun forwarding a Ctrl-C or a kill) set a
// flag the loops poll: the run checkpoints and stops cleanly instead of dying mid-write.
void install_stop_signals();
int stop_signal();  // the signal received, or 0

}  // namespace ringmaster::mpi
