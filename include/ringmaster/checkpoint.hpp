// Checkpoints: everything a run has learned — x, the momentum, k, the method's
// state, per-worker counters and times, the recorder's bests and targets, the epoch that seeds fresh
// random streams after a resume — with the hash of the configuration that produced it.
//
// File format: the 8-byte magic "RMCKPT1\n", the payload's length (8 bytes, little endian) and CRC-32
// (4 bytes, zlib, over the whole payload however long), then the payload: one CBOR map (read with
// nlohmann::json) with x, m and the method's sum as binary float32 arrays (CBOR byte strings). Written by
// write_file_atomically (file_writer.hpp): a reader sees the previous checkpoint or the new one, never
// half of one. The payload's structure is checked before it is decoded, within the limits of
// docs/method.md §8 "Checkpoint payload" (nesting, lengths, the kinds of item the writer writes).
//
// A checkpoint also records the fingerprint of the run's data (data_fingerprint.hpp): a resume refuses
// data that changed since.
//
// A checkpoint also records the run id of its directory (run_dir.hpp) and the byte sizes of the CSV
// files when it was written (flushed to whole rows first): a resume cuts each file back to that size,
// so rows written after the checkpoint are not counted twice and no torn row stays.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringmaster/data_fingerprint.hpp"
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
  // Classifiers: the last and best evaluated test accuracy, and accuracy threshold → training seconds
  // it was first reached (empty in checkpoints of objectives without accuracy, and older ones).
  std::optional<double> last_accuracy, best_accuracy;
  std::map<double, std::optional<double>> accuracy;
  // Sizes in bytes of events.csv, eval.csv and delays.csv, all whole rows, when the state was taken.
  std::uint64_t events_bytes = 0, eval_bytes = 0, delays_bytes = 0;
  // Size of eval_windows.csv; absent in checkpoints written before that file existed.
  std::optional<std::uint64_t> windows_bytes;
};

struct Checkpoint {
  std::string run_id;            // the run directory's id (16 hex digits)
  std::uint64_t config_hash = 0;
  // The rule config_hash was computed by (docs/method.md §8): kConfigHashRule; 1 for checkpoints written
  // before the payload said (every key of to_toml, a hash this build does not compute).
  int hash_rule = kConfigHashRule;
  // The network's shape for tools that rebuild it without the binary (tools/gpt_checkpoint.py): the
  // objective registry row's shape(); empty for objectives without one.
  std::map<std::string, std::int64_t> model_shape;
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
  // The run's data (its files' names, sizes and CRC-32s); absent in checkpoints written before it was kept.
  std::optional<DataFingerprint> data;
};

inline constexpr const char* kCheckpointFile = "checkpoint.bin";

// The x-sized arrays of a checkpoint, viewed where they live (the Server's x and m): written into the
// file straight from there.
struct CheckpointArrays {
  std::span<const float> x, m, method_sum;
};

// Atomically replaces `path` with the checkpoint. Throws Error on I/O failure.
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// The same with x, m and the method's sum taken from `arrays` (checkpoint.x, .m and .method.sum are not
// read): the file is written from them and a small encoding of the rest, so writing a checkpoint costs
// no copy of the parameters (docs/method.md §1 "Memory").
void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint, const CheckpointArrays& arrays);

// The largest payload a checkpoint of a run with `params` parameters and `workers` workers can have
// (x, m and a method sum of float32, per-worker counters, the recorder's state), with room to spare.
std::uint64_t checkpoint_payload_limit(std::size_t params, int workers);
// Without a run to compare with: 16 GiB, far above any real checkpoint but below a /dev/zero.
inline constexpr std::uint64_t kMaxCheckpointPayload = std::uint64_t{16} << 30;

// Reads and verifies a checkpoint: a regular file, its header, a payload length that matches the file
// size and is at most `max_payload` (checked before anything is allocated), the checksum, structure
// and the range of every field. Any defect — truncation, padding, corruption, a device or a FIFO,
// impossible values — throws Error naming the file and what is wrong; never a crash or a hang.
Checkpoint read_checkpoint(const std::filesystem::path& path, std::uint64_t max_payload = kMaxCheckpointPayload);
// The same from bytes already in memory (`name` for messages); the fuzz target's entry point.
Checkpoint parse_checkpoint(const std::string& bytes, const std::string& name);
// The payload alone (the bytes after the header, checksum verified): its structure checked
// (checkpoint_payload_problem), then decoded and every field checked. Throws Error naming `name`.
Checkpoint decode_checkpoint_payload(std::string_view payload, const std::string& name);
// What is wrong with the payload's CBOR structure, with the byte it is at, before anything decodes it:
// nesting deeper than kMaxCheckpointNesting, a length or count larger than the bytes that remain, an
// item of a kind the writer never writes (an indefinite length, a tag, a simple value but false, true
// and null, a negative integer below −2^63), a map key that is not text, a payload that is not one map,
// or bytes after it (docs/method.md §8 "Checkpoint payload"). nullopt when there is none.
std::optional<std::string> checkpoint_payload_problem(std::string_view payload);
// Arrays and maps nested in one another, the payload's map counting as the first. The writer nests 3.
inline constexpr int kMaxCheckpointNesting = 32;

// CRC-32 (zlib) of `size` bytes, with a 64-bit length (zlib's crc32 takes 32 bits), continuing `crc`: the
// CRC of bytes that came before them (0 for none), so a payload written in pieces is checked in pieces.
std::uint32_t checkpoint_crc32(const void* data, std::size_t size, std::uint32_t crc = 0);

// Throws Error unless the checkpoint belongs to this run: the same number of workers (checked first:
// the config hash covers run.workers, and "N workers" says more than "a different configuration"),
// the same config hash, the same parameter count, the run id of the directory it resumes and, when the
// checkpoint records one, the fingerprint of the data (`data`, the objective's now). `engine` says how this
// run got its workers, for the way to match the checkpoint's: mpirun's -np (workers + the server's shards)
// or run.workers (the simulator).
void check_resumable(const Checkpoint& checkpoint, const Config& config, int workers, std::size_t params,
                     const std::string& run_id, const std::string& name, const DataFingerprint& data,
                     ConfigFor engine);

// A checkpoint's configuration hash against `config`'s, for a resume (config_file empty) and for ringmaster
// sample and eval (the run's config.toml): throws Error naming the checkpoint `name` when it was hashed by
// another rule (written by an older build) or when it differs.
void check_config_hash(const Checkpoint& c, const Config& config, const std::string& name,
                       const std::string& config_file);

}  // namespace ringmaster
