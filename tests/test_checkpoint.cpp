// Checkpoints: round trip, and every kind of damage is a clear Error, never a
// crash or a silent restart.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/error.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

constexpr const char* kRunId = "0123456789abcdef";

Checkpoint sample(const Config& config) {
  Checkpoint c;
  c.run_id = kRunId;
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
  c.recorder.events_bytes = 4567;
  c.recorder.eval_bytes = 89;
  c.recorder.delays_bytes = 1011;
  c.recorder.windows_bytes = 1213;
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
  EXPECT_EQ(r.hash_rule, kConfigHashRule);
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
  EXPECT_EQ(r.run_id, kRunId);
  EXPECT_EQ(r.recorder.events_bytes, 4567u);
  EXPECT_EQ(r.recorder.eval_bytes, 89u);
  EXPECT_EQ(r.recorder.delays_bytes, 1011u);
  EXPECT_EQ(r.recorder.windows_bytes, 1213u);
  EXPECT_NO_THROW(check_resumable(r, config, 3, 4, kRunId, "c.bin", {}, ConfigFor::mpi));
}

// A checkpoint from before eval_windows.csv (three CSV sizes) still reads; the file then starts afresh.
TEST(Checkpoint, ReadsThreeCsvSizesFromBeforeEvalWindows) {
  TempDir dir("ckpt-three-sizes");
  Checkpoint c = sample(Config{});
  c.recorder.windows_bytes.reset();
  write_checkpoint(dir.path() / "c.bin", c);
  const Checkpoint r = read_checkpoint(dir.path() / "c.bin");
  EXPECT_EQ(r.recorder.delays_bytes, 1011u);
  EXPECT_FALSE(r.recorder.windows_bytes.has_value());
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
  EXPECT_THROW(check_resumable(c, other, 3, 4, kRunId, "c.bin", {}, ConfigFor::mpi), Error);
  EXPECT_THROW(check_resumable(c, config, 4, 4, kRunId, "c.bin", {}, ConfigFor::mpi), Error);
  EXPECT_THROW(check_resumable(c, config, 3, 5, kRunId, "c.bin", {}, ConfigFor::mpi), Error);
  // Where to write, when to stop and how often to checkpoint may change on resume.
  Config longer = config;
  longer.run.time_budget_s = 600.0;
  longer.checkpoint.every_s = 5.0;
  longer.run.out = "elsewhere";
  EXPECT_NO_THROW(check_resumable(c, longer, 3, 4, kRunId, "c.bin", {}, ConfigFor::mpi));
}

// A checkpoint from before the hash rule was recorded (the corpus's, written by an older build) reads as
// rule 1, and a resume refuses it saying why and what to do rather than calling it another configuration.
TEST(Checkpoint, AnOlderHashRuleIsRefusedSayingWhy) {
  const Checkpoint old =
      read_checkpoint(fs::path(RINGMASTER_SOURCE_DIR) / "tests/fuzz/corpus/checkpoint/ringmaster-1worker.bin");
  EXPECT_EQ(old.hash_rule, 1);
  Checkpoint c = sample(Config{});
  c.hash_rule = 1;
  try {
    check_resumable(c, Config{}, 3, 4, kRunId, "c.bin", {}, ConfigFor::mpi);
    ADD_FAILURE() << "resumed a checkpoint of hash rule 1";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("checkpoint c.bin: its configuration hash follows rule 1"), std::string::npos) << m;
    EXPECT_NE(m.find("Resume it with the build that wrote it, or start a new run"), std::string::npos) << m;
  }
}

TEST(Checkpoint, MissingFileIsAClearError) {
  try {
    read_checkpoint("/nonexistent/checkpoint.bin");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be opened"), std::string::npos);
  }
}

std::string resumable_error(const Checkpoint& c, const Config& config, int workers, const std::string& run_id,
                            ConfigFor engine = ConfigFor::mpi) {
  try {
    check_resumable(c, config, workers, 4, run_id, "c.bin", {}, engine);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A checkpoint of another worker count says how to get the run's: under MPI the ranks its 3 workers and
// this job's server shards need (not 3 + 1 when the server has 2 shards), in the simulator run.workers
// (no mpirun at all).
TEST(Checkpoint, AnotherWorkerCountSaysHowToStartTheRun) {
  Config config;
  config.server.shards = 2;
  const Checkpoint c = sample(config);  // 3 workers
  const std::string mpi = resumable_error(c, config, 2, kRunId, ConfigFor::mpi);
  EXPECT_NE(mpi.find("start mpirun with -np 5 (3 workers + server.shards = 2)"), std::string::npos) << mpi;
  config.server.shards = 1;
  EXPECT_NE(resumable_error(c, config, 2, kRunId, ConfigFor::mpi).find("-np 4 (3 workers + the server)"),
            std::string::npos);
  const std::string sim = resumable_error(c, config, 8, kRunId, ConfigFor::simulator);
  EXPECT_NE(sim.find("resume with run.workers = 3"), std::string::npos) << sim;
  EXPECT_EQ(sim.find("mpirun"), std::string::npos) << sim;
}

// Another run of the same configuration has a checkpoint that matches in everything but its run id: it
// must not continue this directory's run (its CSV files and clocks are another history).
TEST(Checkpoint, RefusesTheCheckpointOfAnotherRun) {
  const Config config;
  const std::string error = resumable_error(sample(config), config, 3, "fedcba9876543210");
  EXPECT_NE(error.find(kRunId), std::string::npos) << error;
  EXPECT_NE(error.find("fedcba9876543210"), std::string::npos) << error;
}

// The config hash covers run.workers: the worker count is checked first, so the message says what differs.
TEST(Checkpoint, AWorkerCountMismatchSaysSo) {
  Config config;
  config.run.workers = 3;
  Checkpoint c = sample(config);
  Config bigger = config;
  bigger.run.workers = 5;
  const std::string error = resumable_error(c, bigger, 5, kRunId);
  EXPECT_NE(error.find("started with 5 workers, the checkpoint has 3"), std::string::npos) << error;
}

// A checkpoint with a valid CRC but contents no run can have is refused field by field.
TEST(Checkpoint, ImpossibleContentsAreRefused) {
  TempDir dir("ckpt-impossible");
  const Config config;
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::string, std::function<void(Checkpoint&)>>> cases = {
      {"x", [](Checkpoint& c) { c.x[1] = std::numeric_limits<float>::quiet_NaN(); }},
      {"m", [](Checkpoint& c) { c.m[0] = std::numeric_limits<float>::infinity(); }},
      {"method_sum", [](Checkpoint& c) { c.method.sum[3] = -std::numeric_limits<float>::infinity(); }},
      {"train_time_s", [nan](Checkpoint& c) { c.train_time_s = nan; }},
      {"wall_time_s", [inf](Checkpoint& c) { c.wall_time_s = inf; }},
      {"wall_time_s", [](Checkpoint& c) { c.wall_time_s = -1.0; }},
      {"k", [](Checkpoint& c) { c.k = std::numeric_limits<std::int64_t>::max() - 1; }},
      {"k", [](Checkpoint& c) { c.k = -5; }},
      {"epoch", [](Checkpoint& c) { c.epoch = std::numeric_limits<std::uint32_t>::max(); }},
      {"counters", [](Checkpoint& c) { c.counters[1].accepted = -1; }},
      {"times", [nan](Checkpoint& c) { c.times[0].busy_s = nan; }},
      {"times", [](Checkpoint& c) { c.times[2].injected_s = -0.5; }},
      {"method_count", [](Checkpoint& c) { c.method.count = -2; }},
      {"best_loss", [nan](Checkpoint& c) { c.recorder.best_loss = nan; }},
      {"recorder.arrivals", [](Checkpoint& c) { c.recorder.arrivals = -1; }},
      {"time_to_target", [](Checkpoint& c) { c.recorder.time_to_target = 99.0; }},  // after train_time_s
      {"recorder.relative", [nan](Checkpoint& c) { c.recorder.relative[0.1] = nan; }},
      {"run_id", [](Checkpoint& c) { c.run_id = "not hex"; }},
  };
  for (const auto& [field, damage] : cases) {
    Checkpoint c = sample(config);
    damage(c);
    write_checkpoint(dir.path() / "c.bin", c);  // a valid header and CRC around impossible contents
    try {
      read_checkpoint(dir.path() / "c.bin");
      ADD_FAILURE() << field << ": accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  }
  // A diverged run ends with a NaN last loss (and a NaN initial loss makes the best loss NaN): accepted.
  Checkpoint diverged = sample(config);
  diverged.recorder.last_loss = nan;
  write_checkpoint(dir.path() / "c.bin", diverged);
  EXPECT_NO_THROW(read_checkpoint(dir.path() / "c.bin"));
}

// The file's type and size are checked before a byte is read. A symlink to /dev/zero or
// a FIFO would otherwise be read until memory runs out or block forever; a padded file is refused from
// its header; a payload larger than the run's parameters allow is refused before it is allocated.
TEST(Checkpoint, ReadsAreBoundedBeforeAnythingIsAllocated) {
  TempDir dir("ckpt-bounded");
  auto error_of = [](const fs::path& p, std::uint64_t limit) -> std::string {
    try {
      read_checkpoint(p, limit);
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  fs::create_symlink("/dev/zero", dir.path() / "zero.bin");
  EXPECT_NE(error_of(dir.path() / "zero.bin", kMaxCheckpointPayload).find("not a regular file"), std::string::npos);
  ASSERT_EQ(::mkfifo((dir.path() / "fifo.bin").c_str(), 0600), 0);
  EXPECT_NE(error_of(dir.path() / "fifo.bin", kMaxCheckpointPayload).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of(dir.path(), kMaxCheckpointPayload).find("not a regular file"), std::string::npos);

  write_checkpoint(dir.path() / "c.bin", sample(Config{}));
  const std::string bytes = read_bytes(dir.path() / "c.bin");
  // Padded by 1 GiB (sparse: costs no disk): refused from the header and the file size alone.
  {
    std::ofstream(dir.path() / "padded.bin", std::ios::binary) << bytes;
    fs::resize_file(dir.path() / "padded.bin", bytes.size() + (std::uint64_t{1} << 30));
  }
  EXPECT_NE(error_of(dir.path() / "padded.bin", kMaxCheckpointPayload).find("truncated or padded"), std::string::npos);
  // A header claiming (and a file holding) 1 GiB of payload for a run of 4 parameters.
  {
    std::string header = bytes.substr(0, 20);
    const std::uint64_t claimed = std::uint64_t{1} << 30;
    for (int i = 0; i < 8; ++i) header[8 + static_cast<std::size_t>(i)] = static_cast<char>((claimed >> (8 * i)) & 0xff);
    std::ofstream(dir.path() / "huge.bin", std::ios::binary) << header;
    fs::resize_file(dir.path() / "huge.bin", 20 + claimed);
  }
  const std::string huge = error_of(dir.path() / "huge.bin", checkpoint_payload_limit(4, 3));
  EXPECT_NE(huge.find("larger than this run's checkpoint can be"), std::string::npos) << huge;
  // The limit leaves room: the real checkpoint of that run is read.
  EXPECT_NO_THROW(read_checkpoint(dir.path() / "c.bin", checkpoint_payload_limit(4, 3)));
  EXPECT_GE(checkpoint_payload_limit(1 << 20, 64), 3u * 4u * (1u << 20));
}

// The file write_checkpoint writes around `payload`: magic, length and CRC-32 made right, so that what is
// tested is the payload's decoding.
std::string with_header(const std::string& payload) {
  std::string bytes = "RMCKPT1\n";
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
  const std::uint32_t crc = checkpoint_crc32(payload.data(), payload.size());
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return bytes + payload;
}

// A real payload (sample's, as write_checkpoint writes it) with one more map entry: `key` and the CBOR
// bytes `value`. Its map has fewer than 24 entries, so its head is one byte.
std::string payload_with(const std::string& key, const std::string& value) {
  TempDir dir("ckpt-payload");
  write_checkpoint(dir.path() / "c.bin", sample(Config{}));
  std::string payload = read_bytes(dir.path() / "c.bin").substr(20);
  EXPECT_EQ(static_cast<unsigned char>(payload[0]) >> 5, 5) << "a map";
  EXPECT_LT(static_cast<unsigned char>(payload[0]) & 0x1F, 23) << "a one-byte head";
  payload[0] = static_cast<char>(payload[0] + 1);
  return payload + static_cast<char>(0x60 + key.size()) + key + value;
}

std::string parse_error(const std::string& payload) {
  try {
    parse_checkpoint(with_header(payload), "ckpt");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// A crafted checkpoint with a valid header and CRC whose payload nests 150,000 arrays crashed every reader
// (nlohmann's CBOR reader recurses once per level): the payload's structure is walked first, without
// recursion, within the limits of docs/method.md §8 "Checkpoint payload", and every breach is one error
// naming the file, the byte and what is wrong. An unknown entry is ignored by the decoder, so an entry
// nested exactly to the limit is accepted: the limit, not the schema, refuses the deeper one.
TEST(Checkpoint, PayloadStructureIsCheckedWithinItsLimitsBeforeDecoding) {
  using namespace std::string_literals;  // payloads hold byte 0
  const std::string arrays_32 = std::string(30, '\x81') + '\x80';  // the map and 31 arrays: 32 levels
  EXPECT_NO_THROW(parse_checkpoint(with_header(payload_with("pad", arrays_32)), "ckpt"));
  EXPECT_NE(parse_error(payload_with("pad", "\x81" + arrays_32)).find("arrays and maps nested more than 32 deep"),
            std::string::npos);
  const std::string deep = "\xa1\x61" "a" + std::string(150000, '\x81') + '\x00';
  const std::string error = parse_error(deep);
  EXPECT_NE(error.find("checkpoint ckpt: malformed content: byte 34: arrays and maps nested more than 32 deep"),
            std::string::npos) << error;

  const std::vector<std::pair<std::string, std::string>> cases = {
      // Lengths and counts larger than what is left: refused before anything is allocated for them.
      {payload_with("pad", "\x7b\x00\x03\x8d\x7e\xa4\xc6\x80\x00" "abc"s),
       "a text string of 1000000000000000 bytes with 3 bytes left"},
      {payload_with("pad", "\x5a\xff\xff\xff\xff"s), "a byte string of 4294967295 bytes with 0 bytes left"},
      {payload_with("pad", "\x9a\x00\x01\x00\x00\x01\x02"s), "an array of 65536 items with 2 bytes left"},
      {payload_with("pad", "\xb9\x01\x00"s), "a map of 256 entries with 0 bytes left"},
      // Kinds of item the writer never writes.
      {payload_with("pad", "\x9f\x01\xff"s), "an indefinite length or its break"},
      {payload_with("pad", "\x7f\x61" "a\xff"s), "an indefinite length or its break"},
      {payload_with("pad", "\xc1\x1a\x00\x00\x00\x01"s), "a tag (the writer writes none)"},
      {payload_with("pad", "\xf7"s), "simple value 23 (the writer writes only false, true, null and floats)"},
      {payload_with("pad", "\xf8\x20"s), "simple value 32"},
      {payload_with("pad", "\x1c"s), "a head with reserved low bits 28"},
      {payload_with("pad", "\x3b\xff\xff\xff\xff\xff\xff\xff\xff"s), "a negative integer below -2^63"},
      // Shapes the writer never writes.
      {payload_with("pad", "\xa1\x01\x02"s), "a map key that is not text"},
      {payload_with("pad", "\x1b\x00"s), "the payload ends inside an item's head"},
      {payload_with("pad", "\x82\x62" "ab"s), "the payload ends inside an array or map"},
      {payload_with("pad", "\x01"s) + "\x00\x00"s, "2 bytes after the payload's map"},
      {"\x83\x01\x02\x03", "byte 0: the payload is not a CBOR map"},
  };
  for (const auto& [payload, expected] : cases) {
    const std::string message = parse_error(payload);
    EXPECT_NE(message.find("checkpoint ckpt: malformed content: byte "), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
  // What the writer writes for every kind of value is inside the limits: NaN and infinities are
  // float16, other doubles float32 or float64, and negative integers of the checkpoint's range.
  for (const double value : {std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::infinity(), 0.5,
                             0.1, -1e300}) {
    std::string encoded;
    const nlohmann::json fields = {{"v", value},    {"n", std::numeric_limits<std::int64_t>::min()},
                                   {"z", nullptr},  {"b", true},
                                   {"o", {{"p", nlohmann::json::array({false})}}}};
    nlohmann::json::to_cbor(fields, encoded);
    EXPECT_EQ(checkpoint_payload_problem(encoded), std::nullopt) << value;
  }
}

// The data's fingerprint goes into the checkpoint and a resume compares it: a corpus or data set changed
// under the same path (half of its files removed; a package upgrade) was resumed without a word. A
// checkpoint from before fingerprints is accepted (open_resumed warns).
TEST(Checkpoint, RecordsTheDataFingerprintAndRefusesChangedData) {
  TempDir dir("ckpt-data");
  const Config config;
  Checkpoint c = sample(config);
  const DataFingerprint data{"/corpus", {{"a", 10, 0x1234}, {"b", 20, 0xabcdef01}}};
  c.data = data;
  write_checkpoint(dir.path() / "c.bin", c);
  const Checkpoint r = read_checkpoint(dir.path() / "c.bin");
  ASSERT_TRUE(r.data.has_value());
  EXPECT_EQ(r.data->files, data.files);
  EXPECT_NO_THROW(check_resumable(r, config, 3, 4, kRunId, "c.bin", data, ConfigFor::mpi));

  const auto refused = [&](const DataFingerprint& now) {
    try {
      check_resumable(r, config, 3, 4, kRunId, "c.bin", now, ConfigFor::mpi);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(refused({"/corpus", {{"a", 10, 0x1234}}}),
            "checkpoint c.bin: the run's data changed since it was written: /corpus: b disappeared (it had 20 bytes, "
            "CRC-32 abcdef01) (resume with the data the run was trained on, or start a new run)");
  EXPECT_NE(refused({"/corpus", {{"a", 10, 0x1234}, {"b", 20, 0xabcdef02}}})
                .find("b changed (20 bytes, CRC-32 abcdef01 then, 20 bytes, CRC-32 abcdef02 now)"),
            std::string::npos);
  EXPECT_NE(refused({"/corpus", {{"a", 10, 0x1234}, {"b", 20, 0xabcdef01}, {"c", 1, 0}}}).find("c appeared (1 bytes"),
            std::string::npos);

  Checkpoint old = sample(config);  // no fingerprint: written before they were kept
  write_checkpoint(dir.path() / "old.bin", old);
  EXPECT_FALSE(read_checkpoint(dir.path() / "old.bin").data.has_value());
  EXPECT_NO_THROW(check_resumable(read_checkpoint(dir.path() / "old.bin"), config, 3, 4, kRunId, "c.bin", data, ConfigFor::mpi));
}

// zlib's crc32() takes a 32-bit length, so a payload over 4 GiB was checked modulo 4 GiB.
// 4 GiB + 16 zero bytes, mapped from the zero page (no memory used), against the CRC of as many zeros
// built by crc32_combine from a 1 MiB one.
TEST(Checkpoint, CrcCoversPayloadsOver4GiB) {
  const std::size_t size = (std::size_t{1} << 32) + 16;
  void* zeros = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (zeros == MAP_FAILED) GTEST_SKIP() << "cannot map 4 GiB of address space";
  const std::vector<unsigned char> mib(std::size_t{1} << 20, 0);
  uLong crc = crc32(0L, mib.data(), static_cast<uInt>(mib.size()));
  for (std::size_t length = mib.size(); length < (std::size_t{1} << 32); length *= 2)
    crc = crc32_combine(crc, crc, static_cast<z_off_t>(length));
  crc = crc32_combine(crc, crc32(0L, mib.data(), 16), 16);
  EXPECT_EQ(checkpoint_crc32(zeros, size), static_cast<std::uint32_t>(crc));
  EXPECT_NE(checkpoint_crc32(zeros, size), checkpoint_crc32(zeros, 16));  // what a 32-bit length sees
  ::munmap(zeros, size);
}

}  // namespace
}  // namespace ringmaster
