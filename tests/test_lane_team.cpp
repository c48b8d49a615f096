// LaneTeam: one job's tasks run on several threads, each exactly once, and run() returns only when all
// have returned, rethrowing the lowest failing index's exception.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ringmaster/lane_team.hpp"

namespace ringmaster {
namespace {

class Lanes : public ::testing::TestWithParam<int> {};

TEST_P(Lanes, EveryTaskOfEveryJobRunsExactlyOnceBeforeRunReturns) {
  LaneTeam team(GetParam());
  ASSERT_EQ(team.lanes(), GetParam());
  std::mt19937 rng(7);
  for (int job = 0; job < 300; ++job) {
    // Counts from 0 (an empty job) to a few hundred; consecutive jobs reuse the team at once, so a helper
    // late from one job must not run a task of the next.
    const std::size_t count = std::uniform_int_distribution<std::size_t>(0, 300)(rng);
    std::vector<std::atomic<int>> runs(count);
    team.run(count, [&](std::size_t i) { runs[i].fetch_add(1); });
    for (std::size_t i = 0; i < count; ++i) ASSERT_EQ(runs[i].load(), 1) << "job " << job << ", task " << i;
  }
}

TEST_P(Lanes, RethrowsTheLowestFailingTaskAfterEveryTaskReturned) {
  LaneTeam team(GetParam());
  std::vector<std::atomic<int>> runs(40);
  try {
    team.run(runs.size(), [&](std::size_t i) {
      runs[i].fetch_add(1);
      if (i == 29) throw std::runtime_error("task 29");
      if (i == 11) throw std::runtime_error("task 11");
    });
    FAIL() << "run() returned although tasks threw";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task 11");
  }
  for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << "task " << i;
  // The team is usable after a failed job.
  std::atomic<int> total{0};
  team.run(10, [&](std::size_t) { total.fetch_add(1); });
  EXPECT_EQ(total.load(), 10);
}

INSTANTIATE_TEST_SUITE_P(LaneTeam, Lanes, ::testing::Values(1, 2, 4));

TEST(LaneTeam, HelpersTakeTasks) {
  // A helper that never ran a task would mean the caller did the job alone. The caller's tasks wait until
  // the helper has taken one (not a fixed task length that a loaded machine may not give the helper time
  // to wake within): the wait ends as soon as it has; its minute is a hang guard for a helper that never
  // runs, the failure this test is for.
  LaneTeam team(2);
  const std::thread::id caller = std::this_thread::get_id();
  std::mutex mutex;
  std::condition_variable helped;
  bool helper_ran = false;
  std::set<std::thread::id> threads;
  team.run(64, [&](std::size_t) {
    std::unique_lock lock(mutex);
    threads.insert(std::this_thread::get_id());
    if (std::this_thread::get_id() != caller) {
      helper_ran = true;
      helped.notify_all();
    } else {
      helped.wait_for(lock, std::chrono::seconds(60), [&] { return helper_ran; });
    }
  });
  EXPECT_TRUE(helper_ran);
  EXPECT_EQ(threads.size(), 2u);
}

TEST(LaneTeam, RefusesMoreTasksThanItsQueueHolds) {
  LaneTeam team(2);
  EXPECT_THROW(team.run(LaneTeam::kMaxTasks + 1, [](std::size_t) {}), std::invalid_argument);
  EXPECT_THROW(LaneTeam(0), std::invalid_argument);
}

}  // namespace
}  // namespace ringmaster
