#include "ringmaster/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <limits>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ringmaster/error.hpp"
#include "ringmaster/file_writer.hpp"

namespace ringmaster {
namespace {

using json = nlohmann::json;

constexpr char kMagic[8] = {'R', 'M', 'C', 'K', 'P', 'T', '1', '\n'};
constexpr std::size_t kHeader = sizeof kMagic + 8 + 4;  // magic, payload length, CRC-32

// Parameters, momentum and sums are finite in any run that can be resumed: a run whose x turned NaN
// stopped as diverged, and resuming it would only diverge again.
std::vector<float> floats_from_json(const json& j, const char* field) {
  const auto& bytes = j.at(field).get_binary();
  if (bytes.size() % sizeof(float) != 0) throw Error(std::string(field) + " is not a float32 array");
  std::vector<float> v(bytes.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());  // empty: data() may be null (UB in memcpy)
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) throw Error(std::string(field) + "[" + std::to_string(i) + "] is not finite");
  return v;
}

// Counts (k, arrivals, per-worker counters, CSV sizes) are ≥ 0 and far from the integer limit: a run
// adds to them, and k + 1 or a sum over workers must not overflow. 2^62 updates would take millennia.
constexpr std::int64_t kMaxCount = std::int64_t{1} << 62;

std::int64_t count_from_json(const json& j, const std::string& field) {
  if (!j.is_number_integer()) throw Error(field + ": expected an integer");
  if (j.is_number_unsigned() ? j.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxCount)
                             : (j.get<std::int64_t>() < 0 || j.get<std::int64_t>() > kMaxCount))
    throw Error(field + ": " + j.dump() + " is outside [0, 2^62]");
  return j.get<std::int64_t>();
}

// Clocks and durations are finite and ≥ 0.
double seconds_from_json(const json& j, const std::string& field) {
  const double v = j.get<double>();
  if (!(std::isfinite(v) && v >= 0.0)) throw Error(field + ": " + j.dump() + " is not a finite time ≥ 0");
  return v;
}

// nlohmann's get<integer type>() converts a float with static_cast, which is undefined behaviour when the
// value is out of range: the integer fields must hold integers.
template <class Int>
Int integer(const json& j) {
  if (!j.is_number_integer())
    throw Error(std::string("expected an integer, got ") + (j.is_number_float() ? "a float" : j.type_name()));
  return j.get<Int>();
}

json optional_to_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t get_le(const std::string& in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return value;
}

// CBOR heads (RFC 8949 §3): a major type in the top 3 bits, then the argument — in the low 5 bits when
// below 24, else in the 1, 2, 4 or 8 big-endian bytes that follow (low bits 24 … 27). Only what
// write_checkpoint needs to append entries to the map nlohmann encoded; nlohmann reads the whole.
constexpr std::uint8_t kCborBytes = 2, kCborText = 3, kCborMap = 5;

std::string cbor_head(std::uint8_t major, std::uint64_t argument) {
  const auto initial = static_cast<char>(major << 5);
  if (argument < 24) return std::string(1, static_cast<char>(initial | static_cast<char>(argument)));
  const int bytes = argument <= 0xFF ? 1 : argument <= 0xFFFF ? 2 : argument <= 0xFFFFFFFFu ? 4 : 8;
  std::string head(1, static_cast<char>(initial | static_cast<char>(bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) head.push_back(static_cast<char>((argument >> (8 * i)) & 0xFF));
  return head;
}

// Bytes of the head that starts with `initial`.
std::size_t cbor_head_bytes(std::uint8_t initial) {
  const std::uint8_t low = initial & 0x1F;
  return low < 24 ? 1 : 1 + (std::size_t{1} << (low - 24));
}

// The argument of the head at the start of `encoded` (the entry count of a map).
std::uint64_t cbor_argument(const std::string& encoded) {
  const auto initial = static_cast<std::uint8_t>(encoded.at(0));
  const std::size_t head = cbor_head_bytes(initial);
  if (head == 1) return initial & 0x1F;
  std::uint64_t argument = 0;
  for (std::size_t i = 1; i < head; ++i) argument = argument << 8 | static_cast<std::uint8_t>(encoded.at(i));
  return argument;
}

std::uint32_t crc32_of(const std::string& bytes, std::size_t from) {
  return checkpoint_crc32(bytes.data() + from, bytes.size() - from);
}

// Everything but the x-sized arrays (x, m, method_sum), which write_checkpoint appends to the map.
json to_json(const Checkpoint& c) {
  json counters = json::array(), times = json::array();
  for (const WorkerCounters& w : c.counters)
    counters.push_back({w.computed, w.accepted, w.discarded, w.superseded, w.interrupted, w.rejected});
  for (const WorkerTimes& t : c.times) times.push_back({t.busy_s, t.injected_s});
  json relative = json::array();
  for (const auto& [ratio, reached] : c.recorder.relative) relative.push_back({ratio, optional_to_json(reached)});
  json accuracy = json::array();
  for (const auto& [level, reached] : c.recorder.accuracy) accuracy.push_back({level, optional_to_json(reached)});
  return {
      {"run_id", c.run_id},
      {"config_hash", c.config_hash},
      {"workers", c.workers},
      {"epoch", c.epoch},
      {"k", c.k},
      {"train_time_s", c.train_time_s},
      {"wall_time_s", c.wall_time_s},
      {"method_count", c.method.count},
      {"counters", counters},
      {"times", times},
      {"recorder",
       {{"initial_loss", c.recorder.initial_loss},
        {"best_loss", c.recorder.best_loss},
        {"last_loss", c.recorder.last_loss},
        {"evaluations", c.recorder.evaluations},
        {"arrivals", c.recorder.arrivals},
        {"time_to_target", optional_to_json(c.recorder.time_to_target)},
        {"relative", relative},
        {"accuracy", accuracy},
        {"last_accuracy", optional_to_json(c.recorder.last_accuracy)},
        {"best_accuracy", optional_to_json(c.recorder.best_accuracy)},
        {"csv_bytes", c.recorder.windows_bytes
                          ? json{c.recorder.events_bytes, c.recorder.eval_bytes, c.recorder.delays_bytes,
                                 *c.recorder.windows_bytes}
                          : json{c.recorder.events_bytes, c.recorder.eval_bytes, c.recorder.delays_bytes}}}},
  };
}

Checkpoint from_json(const json& j) {
  Checkpoint c;
  c.run_id = j.at("run_id").get<std::string>();
  if (c.run_id.size() != 16 || c.run_id.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error("run_id: not 16 hex digits");
  c.config_hash = integer<std::uint64_t>(j.at("config_hash"));
  c.workers = integer<std::int32_t>(j.at("workers"));
  // epoch + 1 is the next run's epoch: it must not wrap.
  c.epoch = integer<std::uint32_t>(j.at("epoch"));
  if (c.epoch == std::numeric_limits<std::uint32_t>::max()) throw Error("epoch: at its limit");
  c.k = count_from_json(j.at("k"), "k");
  c.train_time_s = seconds_from_json(j.at("train_time_s"), "train_time_s");
  c.wall_time_s = seconds_from_json(j.at("wall_time_s"), "wall_time_s");
  c.x = floats_from_json(j, "x");
  c.m = floats_from_json(j, "m");
  c.method.sum = floats_from_json(j, "method_sum");
  c.method.count = count_from_json(j.at("method_count"), "method_count");
  for (const json& w : j.at("counters")) {
    if (w.size() != 6) throw Error("counters: expected 6 per worker");
    c.counters.push_back({count_from_json(w.at(0), "counters"), count_from_json(w.at(1), "counters"),
                          count_from_json(w.at(2), "counters"), count_from_json(w.at(3), "counters"),
                          count_from_json(w.at(4), "counters"), count_from_json(w.at(5), "counters")});
  }
  for (const json& t : j.at("times"))
    c.times.push_back({seconds_from_json(t.at(0), "times"), seconds_from_json(t.at(1), "times")});
  const json& r = j.at("recorder");
  // A loss may be NaN or infinite: that is how a diverged run ends (its last loss, and its initial one
  // if x0 already diverged). The best loss is a minimum that starts at the initial loss, so it is NaN
  // only if that is.
  c.recorder.initial_loss = r.at("initial_loss").get<double>();
  c.recorder.best_loss = r.at("best_loss").get<double>();
  c.recorder.last_loss = r.at("last_loss").get<double>();
  if (std::isnan(c.recorder.best_loss) && !std::isnan(c.recorder.initial_loss))
    throw Error("recorder.best_loss: NaN while the initial loss is not");
  c.recorder.evaluations = count_from_json(r.at("evaluations"), "recorder.evaluations");
  c.recorder.arrivals = count_from_json(r.at("arrivals"), "recorder.arrivals");
  // A target is reached at a time on the training clock before the checkpoint was taken.
  auto reached_at = [&c](const json& v, const std::string& field) -> std::optional<double> {
    if (v.is_null()) return std::nullopt;
    const double t = seconds_from_json(v, field);
    if (t > c.train_time_s) throw Error(field + ": reached after the checkpoint's training time");
    return t;
  };
  c.recorder.time_to_target = reached_at(r.at("time_to_target"), "recorder.time_to_target");
  for (const json& e : r.at("relative")) {
    const double ratio = e.at(0).get<double>();
    // A map key must order strictly: a NaN (or any ratio that is not a fraction) is corruption.
    if (!(ratio > 0.0 && ratio <= 1.0)) throw Error("recorder.relative: target ratio outside (0, 1]");
    c.recorder.relative[ratio] = reached_at(e.at(1), "recorder.relative");
  }
  // Accuracy targets and bests: absent in checkpoints written before they were kept.
  if (r.contains("accuracy")) {
    for (const json& e : r.at("accuracy")) {
      const double level = e.at(0).get<double>();
      if (!(level > 0.0 && level <= 1.0)) throw Error("recorder.accuracy: threshold outside (0, 1]");
      c.recorder.accuracy[level] = reached_at(e.at(1), "recorder.accuracy");
    }
    for (auto [field, accuracy] : {std::pair{"last_accuracy", &c.recorder.last_accuracy},
                                   std::pair{"best_accuracy", &c.recorder.best_accuracy}}) {
      const json& v = r.at(field);
      if (v.is_null()) continue;
      const double a = v.get<double>();
      if (!(a >= 0.0 && a <= 1.0)) throw Error(std::string("recorder.") + field + ": outside [0, 1]");
      *accuracy = a;
    }
  }
  const json& csv = r.at("csv_bytes");
  // Four sizes since eval_windows.csv exists; three in older checkpoints.
  if (!csv.is_array() || (csv.size() != 3 && csv.size() != 4))
    throw Error("recorder.csv_bytes: expected 3 or 4 sizes");
  c.recorder.events_bytes = static_cast<std::uint64_t>(count_from_json(csv.at(0), "recorder.csv_bytes"));
  c.recorder.eval_bytes = static_cast<std::uint64_t>(count_from_json(csv.at(1), "recorder.csv_bytes"));
  c.recorder.delays_bytes = static_cast<std::uint64_t>(count_from_json(csv.at(2), "recorder.csv_bytes"));
  if (csv.size() == 4)
    c.recorder.windows_bytes = static_cast<std::uint64_t>(count_from_json(csv.at(3), "recorder.csv_bytes"));
  // Cross-field consistency: a checkpoint that parses but cannot describe a run is corrupt too.
  if (c.workers < 1 || c.counters.size() != static_cast<std::size_t>(c.workers) ||
      c.times.size() != static_cast<std::size_t>(c.workers))
    throw Error("per-worker arrays do not match workers = " + std::to_string(c.workers));
  if (c.x.size() != c.m.size() || c.x.empty()) throw Error("x and m differ in size or are empty");
  if (!c.method.sum.empty() && c.method.sum.size() != c.x.size()) throw Error("method_sum has the wrong size");
  return c;
}

}  // namespace

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  write_checkpoint(path, checkpoint, {checkpoint.x, checkpoint.m, checkpoint.method.sum});
}

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint, const CheckpointArrays& arrays) {
  // The payload is one CBOR map: nlohmann encodes every field but the three arrays (a few hundred bytes
  // plus the per-worker counters); the arrays follow as three more entries, each a key and a byte-string
  // head before the floats themselves, written to the file from where they live. The map's head is
  // re-encoded with three more entries. The CRC runs over the pieces in order.
  std::string rest;
  json::to_cbor(to_json(checkpoint), rest);
  const std::size_t rest_head = cbor_head_bytes(static_cast<std::uint8_t>(rest.at(0)));
  std::string map_head = cbor_head(kCborMap, cbor_argument(rest) + 3);
  const std::array<std::pair<const char*, std::span<const float>>, 3> entries = {
      {{"m", arrays.m}, {"method_sum", arrays.method_sum}, {"x", arrays.x}}};
  std::array<std::string, 3> heads;  // key, then the byte string's head
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const std::string_view key = entries[i].first;
    heads[i] = cbor_head(kCborText, key.size()) + std::string(key) + cbor_head(kCborBytes, entries[i].second.size_bytes());
  }
  std::vector<std::string_view> pieces;
  std::string header(kMagic, sizeof kMagic);
  pieces.push_back({});  // the header, once the length and CRC are known
  pieces.push_back(map_head);
  pieces.push_back(std::string_view(rest).substr(rest_head));
  for (std::size_t i = 0; i < entries.size(); ++i) {
    pieces.push_back(heads[i]);
    const std::span<const float> floats = entries[i].second;
    pieces.push_back({reinterpret_cast<const char*>(floats.data()), floats.size_bytes()});
  }
  std::uint64_t length = 0;
  std::uint32_t crc = 0;
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    length += pieces[i].size();
    crc = checkpoint_crc32(pieces[i].data(), pieces[i].size(), crc);
  }
  put_le(header, length, 8);
  put_le(header, crc, 4);
  pieces[0] = header;
  write_file_atomically(path, pieces);
}

std::uint32_t checkpoint_crc32(const void* data, std::size_t size, std::uint32_t crc) {
  // Nothing to add for no bytes: their pointer may be null, and crc32_z(crc, Z_NULL, 0) returns zlib's
  // initial value, not crc.
  if (size == 0) return crc;
  // crc32_z takes a size_t length: a payload over 4 GiB is checked whole, not modulo 2^32 bytes.
  return static_cast<std::uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), size));
}

std::uint64_t checkpoint_payload_limit(std::size_t params, int workers) {
  // x, m and the method's sum: 3 float32 arrays; per worker 6 counters and 2 times (≤ 9 bytes each in
  // CBOR); the rest is a few hundred bytes. Doubled, plus 1 MiB, so that no honest checkpoint is near it.
  const std::uint64_t floats = 3 * sizeof(float) * static_cast<std::uint64_t>(params);
  const std::uint64_t per_worker = 8 * 9 + 16;
  return 2 * (floats + per_worker * static_cast<std::uint64_t>(std::max(workers, 0))) + (std::uint64_t{1} << 20);
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& name) {
  auto fail = [&name](const std::string& what) { return Error("checkpoint " + name + ": " + what); };
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw fail("not a Ringmaster checkpoint (bad magic or shorter than its header)");
  const std::uint64_t length = get_le(bytes, sizeof kMagic, 8);
  if (length != bytes.size() - kHeader)
    throw fail("truncated or padded: header says " + std::to_string(length) + " payload bytes, file has " +
               std::to_string(bytes.size() - kHeader));
  const auto crc = static_cast<std::uint32_t>(get_le(bytes, sizeof kMagic + 8, 4));
  if (crc != crc32_of(bytes, kHeader)) throw fail("checksum mismatch: the file is corrupted");
  try {
    const json j = json::from_cbor(bytes.begin() + static_cast<std::ptrdiff_t>(kHeader), bytes.end());
    return from_json(j);
  } catch (const json::exception& e) {
    throw fail(std::string("malformed content: ") + e.what());
  } catch (const Error& e) {
    throw fail(std::string("inconsistent content: ") + e.what());
  }
}

Checkpoint read_checkpoint(const std::filesystem::path& path, std::uint64_t max_payload) {
  const std::string name = path.string();
  auto fail = [&name](const std::string& what) { return Error("checkpoint " + name + ": " + what); };
  // O_NONBLOCK: opening a FIFO must not wait for a writer. The type and size are checked on the open
  // descriptor before a byte is read, so a symlink to /dev/zero or a huge file is refused, not read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw fail(std::string("cannot be opened (no checkpoint to resume from): ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fail(std::string("cannot stat it: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw fail("not a regular file");
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  auto read_at = [&](char* to, std::size_t size, std::uint64_t offset) {
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd, to + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw fail(std::string("cannot read it: ") + std::strerror(errno));
      if (n == 0) throw fail("truncated while being read");
      done += static_cast<std::size_t>(n);
    }
  };
  std::string bytes(kHeader, '\0');
  if (file_size < kHeader) throw fail("not a Ringmaster checkpoint (bad magic or shorter than its header)");
  read_at(bytes.data(), kHeader, 0);
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw fail("not a Ringmaster checkpoint (bad magic or shorter than its header)");
  const std::uint64_t length = get_le(bytes, sizeof kMagic, 8);
  if (length != file_size - kHeader)
    throw fail("truncated or padded: header says " + std::to_string(length) + " payload bytes, file has " +
               std::to_string(file_size - kHeader));
  if (length > max_payload)
    throw fail("payload of " + std::to_string(length) + " bytes is larger than this run's checkpoint can be (at most " +
               std::to_string(max_payload) + ")");
  bytes.resize(kHeader + static_cast<std::size_t>(length));
  read_at(bytes.data() + kHeader, static_cast<std::size_t>(length), kHeader);
  return parse_checkpoint(bytes, name);
}

void check_resumable(const Checkpoint& c, const Config& config, int workers, std::size_t params,
                     const std::string& run_id, const std::string& name, ConfigFor engine) {
  if (c.workers != workers) {
    const int shards = config.server.shards;
    const std::string n = std::to_string(c.workers);
    const std::string how =
        engine == ConfigFor::mpi
            ? "start mpirun with -np " + std::to_string(c.workers + shards) + " (" + n + " workers + " +
                  (shards == 1 ? "the server" : "server.shards = " + std::to_string(shards)) + ")"
            : "resume with run.workers = " + n + ", as in the run's config.toml (drop the --set or -c file that "
              "changes it)";
    throw Error("checkpoint " + name + ": this run was started with " + std::to_string(workers) +
                " workers, the checkpoint has " + n + ": " + how);
  }
  if (c.config_hash != config_hash(config))
    throw Error("checkpoint " + name + ": written by a different configuration (hash " + std::to_string(c.config_hash) +
                ", this run's " + std::to_string(config_hash(config)) +
                "); resume with the run's own config.toml and the same --set overrides");
  if (c.x.size() != params)
    throw Error("checkpoint " + name + ": holds " + std::to_string(c.x.size()) + " parameters, the objective has " +
                std::to_string(params));
  if (c.run_id != run_id)
    throw Error("checkpoint " + name + ": belongs to run " + c.run_id + ", but its directory is run " + run_id +
                " (a checkpoint copied from another run of the same configuration?)");
}

}  // namespace ringmaster
