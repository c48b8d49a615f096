// Checkpoints (issue "Reliability"): everything a run has learned — x, the momentum, k, the method's
// state, per-worker counters and times, the recorder's bests and targets, the epoch that seeds fresh
// random streams after a resume — with the hash of the configuration that produced it.
//
// File format: the 8-byte magic "RMCKPT1\n", the payload's length (8 bytes, little endian) and CRC-32
// (4 bytes, zlib), then the payload: CBOR (nlohmann::json) with x and m as binary float32 arrays.
// Written to a temporary file, fsync'ed, renamed over the old one, directory fsync'ed: a reader sees
// the previous checkpoint or the new one, never half of one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ringmaster/method.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster {

struct WorkerTimes {
  double busy_s = 0.0;      // real compute seconds (including abandoned work)
  double injected_s = 0.0;  // injected delay seconds (including abandoned work)
};

// The recorder's running state: what summary.json is made of besides the server.
struct RecorderState {
  double initial_loss = 0.0;
  double best_loss = 0.0;
  double last_loss = 0.0;
  std::int64_t evaluations = 0;
  std::int64_t arrivals = 0;
  std::optional<double> time_to_target;
  std::map<double, std::optional<double>> relative;  // ratio → training seconds it was reached
};

struct Checkpoint {
  std::uint64_t config_hash = 0;
  std::int32_t workers = 0;
  std::uint32_t epoch = 0;       // 0 for a fresh run, +1 at every resume
  std::int64_t k = 0;
  double train_time_s = 0.0;     // training clock at the checkpoint
  double wall_time_s = 0.0;      // real seconds of all epochs so far
  std::vector<float> x, m;       // (layout.size)
  MethodState method;
  std::vector<WorkerCounters> counters;  // per worker
  std::vector<WorkerTimes> times;        // per worker
  RecorderState recorder;
};

inline constexpr const char* kCheckpointFile = "checkpoint.bin";

// Atomically replaces `path` with the checkpoint. Throws Error on I/O failure.
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);

// Reads and verifies a checkpoint: magic, length, checksum, structure. Any defect — truncation,
// corruption, wrong types — throws Error naming the file and what is wrong; never a crash.
Checkpoint read_checkpoint(const std::filesystem::path& path);
// The same from bytes already in memory (`name` for messages); the fuzz target's entry point.
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& name);

// Throws Error unless the checkpoint belongs to this experiment (config hash, workers, parameters).
void check_resumable(const Checkpoint& checkpoint, const Config& config, int workers, std::size_t params,
                     const std::string& name);

}  // namespace ringmaster
