// Checkpoints (issue "Reliability"): round trip, and every kind of damage is a clear Error, never a
// crash or a silent restart.
#include <gtest/gtest.h>

#include <fstream>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/error.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

Checkpoint sample(const Config& config) {
  Checkpoint c;
  c.config_hash = config_hash(config);
  c.workers = 3;
  c.epoch = 2;
  c.k = 1234;
  c.train_time_s = 12.5;
  c.wall_time_s = 13.25;
  c.x = {1.0f, -2.5f, 3.25f, 0.0f};
  c.m = {0.5f, 0.25f, -0.125f, 1e-30f};
  c.method = {{1.0f, 2.0f, 3.0f, 4.0f}, 2};
  c.counters = {{10, 8, 1, 1, 0, 0}, {5, 4, 0, 0, 3, 1}, {0, 0, 0, 0, 7, 0}};
  c.times = {{0.1, 1.0}, {0.2, 2.0}, {0.3, 3.0}};
  c.recorder.initial_loss = 100.0;
  c.recorder.best_loss = 1.5;
  c.recorder.last_loss = 1.75;
  c.recorder.evaluations = 13;
  c.recorder.arrivals = 15;
  c.recorder.time_to_target = 11.0;
  c.recorder.relative = {{0.1, 3.0}, {0.001, std::nullopt}};
  return c;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void expect_error(const std::string& bytes, const std::string& expected) {
  try {
    parse_checkpoint(bytes, "ckpt");
    ADD_FAILURE() << "no error; expected one containing '" << expected << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("checkpoint ckpt"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, RoundTripsEveryField) {
  TempDir dir("ckpt-roundtrip");
  const Config config;
  const Checkpoint c = sample(config);
  write_checkpoint(dir.path() / "c.bin", c);
  EXPECT_FALSE(fs::exists(dir.path() / "c.bin.tmp"));
  const Checkpoint r = read_checkpoint(dir.path() / "c.bin");
  EXPECT_EQ(r.config_hash, c.config_hash);
  EXPECT_EQ(r.workers, 3);
  EXPECT_EQ(r.epoch, 2u);
  EXPECT_EQ(r.k, 1234);
  EXPECT_EQ(r.train_time_s, 12.5);
  EXPECT_EQ(r.x, c.x);  // bit-exact floats
  EXPECT_EQ(r.m, c.m);
  EXPECT_EQ(r.method.sum, c.method.sum);
  EXPECT_EQ(r.method.count, 2);
  ASSERT_EQ(r.counters.size(), 3u);
  EXPECT_EQ(r.counters[1].interrupted, 3);
  EXPECT_EQ(r.counters[1].rejected, 1);
  EXPECT_EQ(r.times[2].injected_s, 3.0);
  EXPECT_EQ(r.recorder.time_to_target, 11.0);
  EXPECT_EQ(r.recorder.relative.at(0.1), 3.0);
  EXPECT_FALSE(r.recorder.relative.at(0.001).has_value());
  EXPECT_NO_THROW(check_resumable(r, config, 3, 4, "c.bin"));
}

TEST(Checkpoint, EveryTruncationIsAnError) {
  TempDir dir("ckpt-truncate");
  write_checkpoint(dir.path() / "c.bin", sample(Config{}));
  const std::string bytes = read_bytes(dir.path() / "c.bin");
  for (std::size_t n = 0; n < bytes.size(); n += 1 + n / 16) {
    SCOPED_TRACE(n);
    expect_error(bytes.substr(0, n), n < 20 ? "not a Ringmaster checkpoint" : "truncated");
  }
  expect_error(bytes + "x", "truncated or padded");
}

TEST(Checkpoint, EveryFlippedByteIsAnError) {
  TempDir dir("ckpt-flip");
  write_checkpoint(dir.path() / "c.bin", sample(Config{}));
  const std::string bytes = read_bytes(dir.path() / "c.bin");
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    EXPECT_THROW(parse_checkpoint(damaged, "ckpt"), Error) << "byte " << i;
  }
}

TEST(Checkpoint, RefusesAnotherExperiment) {
  Config config;
  const Checkpoint c = sample(config);
  Config other = config;
  other.method.threshold = 7;
  EXPECT_THROW(check_resumable(c, other, 3, 4, "c.bin"), Error);
  EXPECT_THROW(check_resumable(c, config, 4, 4, "c.bin"), Error);
  EXPECT_THROW(check_resumable(c, config, 3, 5, "c.bin"), Error);
  // Where to write, when to stop and how often to checkpoint may change on resume.
  Config longer = config;
  longer.run.time_budget_s = 600.0;
  longer.checkpoint.every_s = 5.0;
  longer.run.out = "elsewhere";
  EXPECT_NO_THROW(check_resumable(c, longer, 3, 4, "c.bin"));
}

TEST(Checkpoint, MissingFileIsAClearError) {
  try {
    read_checkpoint("/nonexistent/checkpoint.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be opened"), std::string::npos);
  }
}

}  // namespace
}  // namespace ringmaster
