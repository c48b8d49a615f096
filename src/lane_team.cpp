#include "ringmaster/lane_team.hpp"

#include <stdexcept>

namespace ringmaster {

LaneTeam::LaneTeam(int lanes) {
  if (lanes < 1) throw std::invalid_argument("LaneTeam: needs at least 1 lane");
  for (int lane = 1; lane < lanes; ++lane) helpers_.emplace_back([this] { helper(); });
}

LaneTeam::~LaneTeam() {
  stopping_.store(true);
  job_.fetch_add(1);  // wakes every sleeping helper, which then sees stopping_
  job_.notify_all();
  for (std::thread& h : helpers_) h.join();
}

std::uint64_t LaneTeam::pack(std::uint32_t job, std::size_t count, std::size_t next) {
  return (static_cast<std::uint64_t>(job) << 32) | (static_cast<std::uint64_t>(count) << 16) |
         static_cast<std::uint64_t>(next);
}

bool LaneTeam::claim(std::uint32_t job, std::size_t& index, std::size_t& count) {
  std::uint64_t q = queue_.load();
  for (;;) {
    count = static_cast<std::size_t>((q >> 16) & 0xffff);
    index = static_cast<std::size_t>(q & 0xffff);
    if (static_cast<std::uint32_t>(q >> 32) != job || index >= count) return false;
    if (queue_.compare_exchange_weak(q, q + 1)) return true;  // acquires the job's task_ and errors_
  }
}

void LaneTeam::work(std::uint32_t job) {
  std::size_t index = 0, count = 0;
  while (claim(job, index, count)) {
    try {
      (*task_)(index);
    } catch (...) {
      errors_[index] = std::current_exception();
    }
    // The last task to return wakes the caller; the release publishes what the task wrote.
    if (finished_.fetch_add(1) + 1 == count) finished_.notify_one();
  }
}

void LaneTeam::helper() {
  std::uint32_t seen = 0;
  for (;;) {
    job_.wait(seen);  // sleeps until a new job (or the destructor) changes job_
    if (stopping_.load()) return;
    seen = job_.load();
    work(seen);
  }
}

void LaneTeam::run(std::size_t count, const std::function<void(std::size_t)>& task) {
  if (count > kMaxTasks) throw std::invalid_argument("LaneTeam::run: more than kMaxTasks tasks");
  if (count == 0) return;
  // Every claim of the previous job has finished (run waited for it), so nobody reads these now.
  task_ = &task;
  errors_.assign(count, nullptr);
  finished_.store(0);
  const std::uint32_t job = job_.load() + 1;
  queue_.store(pack(job, count, 0));  // publishes task_, errors_ and finished_ to whoever claims
  job_.store(job);
  if (!helpers_.empty()) job_.notify_all();
  work(job);
  for (std::size_t f = finished_.load(); f != count; f = finished_.load()) finished_.wait(f);
  for (const std::exception_ptr& e : errors_)
    if (e) std::rethrow_exception(e);
}

}  // namespace ringmaster
