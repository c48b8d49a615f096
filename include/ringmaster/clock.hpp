// The process's clocks in seconds, for timing what it does: the steady wall clock, and the CPU time the
// calling thread has used (what a computation costs on a core of its own, however busy the machine).
#pragma once

#include <time.h>

#include <chrono>

namespace ringmaster {

inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace ringmaster
