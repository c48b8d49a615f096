// A team of threads that runs the independent tasks of one job, 0..count−1, and returns when all are
// done: the caller is lane 0 and works too, lanes 1..n−1 are helper threads that sleep between jobs.
// The server uses it to compute the LMOs of one update's blocks side by side (block_parallel_updates,
// update_executor.hpp).
//
// Tasks are claimed in index order, one at a time, by whichever lane is free (so a caller that orders
// its tasks longest first gets the longest-processing-time-first schedule), and the caller starts on
// them at once: a helper that wakes late (tens of microseconds here) only takes fewer tasks. What a
// task computes must not depend on which lane runs it; then the job's result is the same for every
// number of lanes.
//
// Waits sleep (std::atomic::wait: a futex after a few spins), they do not poll: between jobs a helper
// costs no CPU, so the cores stay free for the rank's other threads (serving, the evaluator).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace ringmaster {

class LaneTeam {
 public:
  // `lanes` ≥ 1 threads in all, the caller included (lanes − 1 helpers are started).
  explicit LaneTeam(int lanes);
  ~LaneTeam();
  LaneTeam(const LaneTeam&) = delete;
  LaneTeam& operator=(const LaneTeam&) = delete;

  int lanes() const { return static_cast<int>(helpers_.size()) + 1; }

  // Runs task(0), ..., task(count − 1) on the lanes; returns when every one has returned. If tasks
  // threw, rethrows the exception of the lowest index (after all have finished). count ≤ kMaxTasks.
  // One job at a time, from one thread.
  void run(std::size_t count, const std::function<void(std::size_t)>& task);

  static constexpr std::size_t kMaxTasks = 0xffff;

 private:
  // The job queue in one word, so that a lane claims a task and checks that it belongs to the job it
  // woke for in one compare-and-swap: bits 32..63 the job number, 16..31 its task count, 0..15 the next
  // unclaimed index. A helper still holding a claim keeps the caller in run(), so the job's task and
  // error slots never change under it.
  static std::uint64_t pack(std::uint32_t job, std::size_t count, std::size_t next);
  // Claims the next task of job `job`; false when that job has none left (or is over).
  bool claim(std::uint32_t job, std::size_t& index, std::size_t& count);
  // Runs claimed tasks of job `job` until none is left.
  void work(std::uint32_t job);
  void helper();

  std::atomic<std::uint64_t> queue_{0};
  std::atomic<std::uint32_t> job_{0};       // the latest job; helpers sleep on it
  std::atomic<std::size_t> finished_{0};    // tasks of the current job that returned; the caller sleeps on it
  std::atomic<bool> stopping_{false};
  const std::function<void(std::size_t)>* task_ = nullptr;  // the current job's, set before it is published
  std::vector<std::exception_ptr> errors_;                  // (count) of the current job
  std::vector<std::thread> helpers_;
};

}  // namespace ringmaster
