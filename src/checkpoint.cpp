#include "ringmaster/checkpoint.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <limits>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ringmaster/error.hpp"
#include "ringmaster/file_writer.hpp"
#include "ringmaster/input_file.hpp"

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

std::uint32_t crc32_from_json(const json& j) {
  const std::int64_t crc = count_from_json(j, "data");
  if (crc > std::numeric_limits<std::uint32_t>::max()) throw Error("data: a CRC-32 of more than 32 bits");
  return static_cast<std::uint32_t>(crc);
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
// below 24, else in the 1, 2, 4 or 8 big-endian bytes that follow (low bits 24 … 27); 28 … 30 are
// reserved, 31 is an indefinite length (or, major type 7, a break). write_checkpoint writes heads to
// append entries to the map nlohmann encoded; the payload check reads every head before nlohmann does.
constexpr std::uint8_t kCborUnsigned = 0, kCborNegative = 1, kCborBytes = 2, kCborText = 3, kCborArray = 4,
                       kCborMap = 5, kCborTag = 6, kCborSimple = 7;

std::string cbor_head(std::uint8_t major, std::uint64_t argument) {
  const auto initial = static_cast<char>(major << 5);
  if (argument < 24) return std::string(1, static_cast<char>(initial | static_cast<char>(argument)));
  const int bytes = argument <= 0xFF ? 1 : argument <= 0xFFFF ? 2 : argument <= 0xFFFFFFFFu ? 4 : 8;
  std::string head(1, static_cast<char>(initial | static_cast<char>(bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) head.push_back(static_cast<char>((argument >> (8 * i)) & 0xFF));
  return head;
}

struct CborHead {
  std::uint8_t major = 0;
  std::uint8_t low = 0;        // the low 5 bits of the initial byte
  std::uint64_t argument = 0;  // a length, a count, an integer's value or a float's bits
  std::size_t bytes = 0;       // of the head
};

// The head that starts at `at`; nullopt when the bytes end inside it or its low bits are 28 … 31
// (reserved, or an indefinite length: the writer gives every length).
std::optional<CborHead> cbor_head_at(std::string_view in, std::size_t at) {
  const auto initial = static_cast<std::uint8_t>(in.at(at));
  CborHead head{static_cast<std::uint8_t>(initial >> 5), static_cast<std::uint8_t>(initial & 0x1F), 0, 1};
  if (head.low < 24) {
    head.argument = head.low;
    return head;
  }
  if (head.low > 27) return std::nullopt;
  head.bytes = 1 + (std::size_t{1} << (head.low - 24));
  if (in.size() - at < head.bytes) return std::nullopt;
  for (std::size_t i = 1; i < head.bytes; ++i)
    head.argument = head.argument << 8 | static_cast<std::uint8_t>(in[at + i]);
  return head;
}

// nlohmann's CBOR reader recurses once per level of nesting, even through its SAX interface, and trusts
// announced lengths until the bytes run out: 150,000 nested arrays overflow the stack. So the payload's
// structure is walked first, iteratively, one head at a time, with a fixed stack of open containers:
// nlohmann sees only a payload nested at most kMaxCheckpointNesting deep whose every length fits in
// the bytes that remain. A walk of the heads rather than a decoder of the checkpoint's schema of our
// own: nlohmann stays the one decoder of values (integers, floats of three widths, strings), the walk is
// the same rule set the Python loader (tools/gpt_checkpoint.py) applies before cbor2, and both accept
// exactly what write_checkpoint writes: nlohmann's to_cbor of the fields (definite lengths, no tags,
// false/true/null and floats of 16 (NaN, ±inf), 32 or 64 bits, int64 integers) and the appended map
// entries of byte strings.
}  // namespace

std::optional<std::string> checkpoint_payload_problem(std::string_view payload) {
  struct Open {
    std::uint64_t left = 0;  // items still to come (a map's entries twice: a key and a value each)
    bool map = false;
  };
  std::array<Open, kMaxCheckpointNesting + 1> open{};  // [0]: the payload itself, one item
  open[0].left = 1;
  int depth = 0;
  std::size_t at = 0;
  const auto problem = [&at](const std::string& what) { return "byte " + std::to_string(at) + ": " + what; };
  for (;;) {
    while (depth > 0 && open[depth].left == 0) --depth;
    if (depth == 0 && open[0].left == 0) break;
    if (at == payload.size()) return problem("the payload ends inside an array or map");
    const bool key = open[depth].map && open[depth].left % 2 == 0;
    --open[depth].left;
    const int low = static_cast<std::uint8_t>(payload[at]) & 0x1F;
    if (low == 31) return problem("an indefinite length or its break (the writer gives every length)");
    if (low > 27) return problem("a head with reserved low bits " + std::to_string(low));
    const std::optional<CborHead> head = cbor_head_at(payload, at);
    if (!head) return problem("the payload ends inside an item's head");
    const std::uint64_t remaining = payload.size() - at - head->bytes;
    if (depth == 0 && head->major != kCborMap) return problem("the payload is not a CBOR map");
    if (key && head->major != kCborText) return problem("a map key that is not text");
    switch (head->major) {
      case kCborUnsigned: break;
      case kCborNegative:
        // −1 − argument: below −2^63 nlohmann would wrap it into another value.
        if (head->argument > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          return problem("a negative integer below -2^63");
        break;
      case kCborBytes:
      case kCborText:
      case kCborArray:
      case kCborMap:
        if (head->argument > remaining)
          return problem(std::string(head->major == kCborBytes   ? "a byte string of "
                                     : head->major == kCborText  ? "a text string of "
                                     : head->major == kCborArray ? "an array of "
                                                                 : "a map of ") +
                         std::to_string(head->argument) +
                         (head->major <= kCborText ? " bytes" : head->major == kCborArray ? " items" : " entries") +
                         " with " + std::to_string(remaining) + " bytes left in the payload");
        if (head->major <= kCborText) {
          at += head->argument;
          break;
        }
        if (depth == kMaxCheckpointNesting)
          return problem("arrays and maps nested more than " + std::to_string(kMaxCheckpointNesting) + " deep");
        ++depth;
        open[depth] = {head->major == kCborMap ? 2 * head->argument : head->argument, head->major == kCborMap};
        break;
      case kCborTag: return problem("a tag (the writer writes none)");
      case kCborSimple:
        // false, true, null; floats of 16, 32 and 64 bits.
        if (head->low != 20 && head->low != 21 && head->low != 22 && head->low != 25 && head->low != 26 &&
            head->low != 27)
          return problem("simple value " + std::to_string(head->low == 24 ? head->argument : head->low) +
                         " (the writer writes only false, true, null and floats)");
        break;
    }
    at += head->bytes;
  }
  if (at != payload.size())
    return problem(std::to_string(payload.size() - at) + " bytes after the payload's map");
  return std::nullopt;
}

namespace {

// Every defect of a checkpoint file is reported the same way: the file, then what is wrong.
Error checkpoint_error(const std::string& name, const std::string& what) {
  return Error("checkpoint " + name + ": " + what);
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
  json out = {
      {"run_id", c.run_id},
      {"config_hash", c.config_hash},
      {"hash_rule", c.hash_rule},
      {"model_shape", c.model_shape},
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
  if (c.data) {
    json files = json::array();
    for (const FileFingerprint& f : c.data->files) files.push_back({f.name, f.bytes, f.crc32});
    out["data"] = std::move(files);
  }
  return out;
}

Checkpoint from_json(const json& j) {
  Checkpoint c;
  c.run_id = j.at("run_id").get<std::string>();
  if (c.run_id.size() != 16 || c.run_id.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error("run_id: not 16 hex digits");
  c.config_hash = integer<std::uint64_t>(j.at("config_hash"));
  c.hash_rule = j.contains("hash_rule") ? integer<std::int32_t>(j.at("hash_rule")) : 1;
  if (j.contains("model_shape"))
    for (const auto& [name, value] : j.at("model_shape").items()) c.model_shape[name] = integer<std::int64_t>(value);
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
  // The data's fingerprint: absent in checkpoints written before it was kept.
  if (j.contains("data")) {
    c.data.emplace();
    for (const json& f : j.at("data")) {
      if (!f.is_array() || f.size() != 3 || !f.at(0).is_string())
        throw Error("data: expected [name, bytes, crc32] per file");
      c.data->files.push_back({f.at(0).get<std::string>(), static_cast<std::uint64_t>(count_from_json(f.at(1), "data")),
                               crc32_from_json(f.at(2))});
    }
  }
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
  const CborHead rest_map = cbor_head_at(rest, 0).value();  // nlohmann's map: its head and entry count
  const std::size_t rest_head = rest_map.bytes;
  std::string map_head = cbor_head(kCborMap, rest_map.argument + 3);
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

Checkpoint decode_checkpoint_payload(std::string_view payload, const std::string& name) {
  if (const std::optional<std::string> problem = checkpoint_payload_problem(payload))
    throw checkpoint_error(name, "malformed content: " + *problem);
  try {
    return from_json(json::from_cbor(payload.begin(), payload.end()));
  } catch (const json::exception& e) {
    throw checkpoint_error(name, std::string("malformed content: ") + e.what());
  } catch (const Error& e) {
    throw checkpoint_error(name, std::string("inconsistent content: ") + e.what());
  }
}

Checkpoint parse_checkpoint(const std::string& bytes, const std::string& name) {
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw checkpoint_error(name, "not a Ringmaster checkpoint (bad magic or shorter than its header)");
  const std::uint64_t length = get_le(bytes, sizeof kMagic, 8);
  if (length != bytes.size() - kHeader)
    throw checkpoint_error(name, "truncated or padded: header says " + std::to_string(length) +
                                     " payload bytes, file has " + std::to_string(bytes.size() - kHeader));
  const auto crc = static_cast<std::uint32_t>(get_le(bytes, sizeof kMagic + 8, 4));
  if (crc != crc32_of(bytes, kHeader)) throw checkpoint_error(name, "checksum mismatch: the file is corrupted");
  return decode_checkpoint_payload(std::string_view(bytes).substr(kHeader), name);
}

Checkpoint read_checkpoint(const std::filesystem::path& path, std::uint64_t max_payload) {
  const std::string name = path.string();
  // The reader policy (input_file.hpp): a FIFO does not block the open, and the type is checked on the
  // open descriptor before a byte is read, so a symlink to /dev/zero or a FIFO is refused, not read. The
  // size is checked against the header's length and the run's limit before the payload is allocated.
  InputFile file(path, std::numeric_limits<std::uint64_t>::max());
  switch (file.status()) {
    case InputFile::Status::ok: break;
    case InputFile::Status::cannot_open:
      throw checkpoint_error(name, std::string("cannot be opened (no checkpoint to resume from): ") +
                                       std::strerror(file.error()));
    case InputFile::Status::directory:
    case InputFile::Status::not_regular:
    case InputFile::Status::too_large: throw checkpoint_error(name, "not a regular file");
  }
  auto read_at = [&](char* to, std::size_t size, std::uint64_t offset) {
    if (file.read_at(to, size, offset)) return;
    if (file.error() != 0) throw checkpoint_error(name, std::string("cannot read it: ") + std::strerror(file.error()));
    throw checkpoint_error(name, "truncated while being read");
  };
  const std::uint64_t file_size = file.size();
  std::string bytes(kHeader, '\0');
  if (file_size < kHeader)
    throw checkpoint_error(name, "not a Ringmaster checkpoint (bad magic or shorter than its header)");
  read_at(bytes.data(), kHeader, 0);
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw checkpoint_error(name, "not a Ringmaster checkpoint (bad magic or shorter than its header)");
  const std::uint64_t length = get_le(bytes, sizeof kMagic, 8);
  if (length != file_size - kHeader)
    throw checkpoint_error(name, "truncated or padded: header says " + std::to_string(length) +
                                     " payload bytes, file has " + std::to_string(file_size - kHeader));
  if (length > max_payload)
    throw checkpoint_error(name, "payload of " + std::to_string(length) +
                                     " bytes is larger than this run's checkpoint can be (at most " +
                                     std::to_string(max_payload) + ")");
  bytes.resize(kHeader + static_cast<std::size_t>(length));
  read_at(bytes.data() + kHeader, static_cast<std::size_t>(length), kHeader);
  return parse_checkpoint(bytes, name);
}

void check_resumable(const Checkpoint& c, const Config& config, int workers, std::size_t params,
                     const std::string& run_id, const std::string& name, const DataFingerprint& data,
                     ConfigFor engine) {
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
  check_config_hash(c, config, name, "");
  if (c.x.size() != params)
    throw Error("checkpoint " + name + ": holds " + std::to_string(c.x.size()) + " parameters, the objective has " +
                std::to_string(params));
  if (c.run_id != run_id)
    throw Error("checkpoint " + name + ": belongs to run " + c.run_id + ", but its directory is run " + run_id +
                " (a checkpoint copied from another run of the same configuration?)");
  if (c.data)
    if (const std::optional<std::string> change = fingerprint_difference(*c.data, data))
      throw checkpoint_error(name, "the run's data changed since it was written: " + data.source + ": " + *change +
                                       " (resume with the data the run was trained on, or start a new run)");
}

void check_config_hash(const Checkpoint& c, const Config& config, const std::string& name,
                       const std::string& config_file) {
  if (c.hash_rule != kConfigHashRule)
    throw Error("checkpoint " + name + ": its configuration hash follows rule " + std::to_string(c.hash_rule) +
                " (every key of config.toml, before version 2 of docs/method.md §8), this build's rule " +
                std::to_string(kConfigHashRule) + " (the keys that change results, at non-default values): it cannot "
                "tell whether the checkpoint belongs to this configuration. Resume it with the build that wrote it, "
                "or start a new run");
  if (c.config_hash == config_hash(config)) return;
  if (!config_file.empty())
    throw Error("checkpoint " + name + ": written by a different configuration than " + config_file);
  throw Error("checkpoint " + name + ": written by a different configuration (hash " + std::to_string(c.config_hash) +
              ", this run's " + std::to_string(config_hash(config)) +
              "); resume with the run's own config.toml and the same --set overrides");
}

}  // namespace ringmaster
