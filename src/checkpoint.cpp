#include "ringmaster/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ringmaster/error.hpp"

namespace ringmaster {
namespace {

using json = nlohmann::json;

constexpr char kMagic[8] = {'R', 'M', 'C', 'K', 'P', 'T', '1', '\n'};
constexpr std::size_t kHeader = sizeof kMagic + 8 + 4;  // magic, payload length, CRC-32

json floats_to_json(const std::vector<float>& v) {
  std::vector<std::uint8_t> bytes(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());  // empty: data() may be null (UB in memcpy)
  return json::binary(std::move(bytes));
}

std::vector<float> floats_from_json(const json& j, const char* field) {
  const auto& bytes = j.at(field).get_binary();
  if (bytes.size() % sizeof(float) != 0) throw Error(std::string(field) + " is not a float32 array");
  std::vector<float> v(bytes.size() / sizeof(float));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());  // empty: data() may be null (UB in memcpy)
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
std::optional<double> optional_from_json(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<double>();
}

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
std::uint64_t get_le(const std::string& in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  return value;
}

std::uint32_t crc32_of(const std::string& bytes, std::size_t from) {
  return static_cast<std::uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data() + from), static_cast<uInt>(bytes.size() - from)));
}

json to_json(const Checkpoint& c) {
  json counters = json::array(), times = json::array();
  for (const WorkerCounters& w : c.counters)
    counters.push_back({w.computed, w.accepted, w.discarded, w.superseded, w.interrupted, w.rejected});
  for (const WorkerTimes& t : c.times) times.push_back({t.busy_s, t.injected_s});
  json relative = json::array();
  for (const auto& [ratio, reached] : c.recorder.relative) relative.push_back({ratio, optional_to_json(reached)});
  return {
      {"config_hash", c.config_hash},
      {"workers", c.workers},
      {"epoch", c.epoch},
      {"k", c.k},
      {"train_time_s", c.train_time_s},
      {"wall_time_s", c.wall_time_s},
      {"x", floats_to_json(c.x)},
      {"m", floats_to_json(c.m)},
      {"method_sum", floats_to_json(c.method.sum)},
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
        {"relative", relative}}},
  };
}

Checkpoint from_json(const json& j) {
  Checkpoint c;
  c.config_hash = integer<std::uint64_t>(j.at("config_hash"));
  c.workers = integer<std::int32_t>(j.at("workers"));
  c.epoch = integer<std::uint32_t>(j.at("epoch"));
  c.k = integer<std::int64_t>(j.at("k"));
  c.train_time_s = j.at("train_time_s").get<double>();
  c.wall_time_s = j.at("wall_time_s").get<double>();
  c.x = floats_from_json(j, "x");
  c.m = floats_from_json(j, "m");
  c.method.sum = floats_from_json(j, "method_sum");
  c.method.count = integer<std::int64_t>(j.at("method_count"));
  for (const json& w : j.at("counters")) {
    if (w.size() != 6) throw Error("counters: expected 6 per worker");
    c.counters.push_back({integer<std::int64_t>(w.at(0)), integer<std::int64_t>(w.at(1)),
                          integer<std::int64_t>(w.at(2)), integer<std::int64_t>(w.at(3)),
                          integer<std::int64_t>(w.at(4)), integer<std::int64_t>(w.at(5))});
  }
  for (const json& t : j.at("times")) c.times.push_back({t.at(0).get<double>(), t.at(1).get<double>()});
  const json& r = j.at("recorder");
  c.recorder.initial_loss = r.at("initial_loss").get<double>();
  c.recorder.best_loss = r.at("best_loss").get<double>();
  c.recorder.last_loss = r.at("last_loss").get<double>();
  c.recorder.evaluations = integer<std::int64_t>(r.at("evaluations"));
  c.recorder.arrivals = integer<std::int64_t>(r.at("arrivals"));
  c.recorder.time_to_target = optional_from_json(r.at("time_to_target"));
  for (const json& e : r.at("relative")) {
    const double ratio = e.at(0).get<double>();
    // A map key must order strictly: a NaN (or any ratio that is not a fraction) is corruption.
    if (!(ratio > 0.0 && ratio <= 1.0)) throw Error("recorder.relative: target ratio outside (0, 1]");
    c.recorder.relative[ratio] = optional_from_json(e.at(1));
  }
  // Cross-field consistency: a checkpoint that parses but cannot describe a run is corrupt too.
  if (c.workers < 1 || c.counters.size() != static_cast<std::size_t>(c.workers) ||
      c.times.size() != static_cast<std::size_t>(c.workers))
    throw Error("per-worker arrays do not match workers = " + std::to_string(c.workers));
  if (c.x.size() != c.m.size() || c.x.empty()) throw Error("x and m differ in size or are empty");
  if (!c.method.sum.empty() && c.method.sum.size() != c.x.size()) throw Error("method_sum has the wrong size");
  if (c.k < 0 || c.method.count < 0 || !(c.train_time_s >= 0.0)) throw Error("negative k, count or time");
  return c;
}

void fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw Error("cannot open " + path.string() + " to sync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw Error("fsync " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint) {
  const std::vector<std::uint8_t> payload = json::to_cbor(to_json(checkpoint));
  std::string bytes(kMagic, sizeof kMagic);
  put_le(bytes, payload.size(), 8);
  put_le(bytes, 0, 4);  // CRC placeholder, filled below
  bytes.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  const std::uint32_t crc = crc32_of(bytes, kHeader);
  for (int i = 0; i < 4; ++i) bytes[sizeof kMagic + 8 + static_cast<std::size_t>(i)] = static_cast<char>((crc >> (8 * i)) & 0xff);

  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw Error("cannot write checkpoint " + tmp.string());
  }
  fsync_path(tmp, O_RDONLY);
  std::filesystem::rename(tmp, path);
  fsync_path(path.parent_path().empty() ? "." : path.parent_path(), O_RDONLY | O_DIRECTORY);
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

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("checkpoint " + path.string() + ": cannot be opened (no checkpoint to resume from)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_checkpoint(buffer.str(), path.string());
}

void check_resumable(const Checkpoint& c, const Config& config, int workers, std::size_t params,
                     const std::string& name) {
  if (c.config_hash != config_hash(config))
    throw Error("checkpoint " + name + ": written by a different configuration (hash " + std::to_string(c.config_hash) +
                ", this run's " + std::to_string(config_hash(config)) +
                "); resume with the run's own config.toml and the same --set overrides");
  if (c.workers != workers)
    throw Error("checkpoint " + name + ": written with " + std::to_string(c.workers) + " workers, this run has " +
                std::to_string(workers) + " (start mpirun with -np " + std::to_string(c.workers + 1) + ")");
  if (c.x.size() != params)
    throw Error("checkpoint " + name + ": holds " + std::to_string(c.x.size()) + " parameters, the objective has " +
                std::to_string(params));
}

}  // namespace ringmaster
