// Configuration loading (docs/method.md §9). toml++ parses the file and every `--set` value; this file maps the
// resulting table onto Config with strict checks. Every error names the key and where its value came
// from, so a user can fix it without reading code:
//   FILE:LINE: <what is outside the TOML a config uses> (...)  (config/toml_subset.hpp, before toml++)
//   FILE:LINE:COL: syntax error: <toml++ description>
//   FILE:LINE: section.key: <what is wrong>             (value from the file)
//   --set section.key=value: section.key: <what is wrong>  (value from the command line)
//   section.key: <what is wrong>                          (cross-check on a default value)
#include "ringmaster/config.hpp"
#include "ringmaster/fnv1a.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cerrno>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "config/checks.hpp"
#include "config/keys.hpp"
#include "config/toml_subset.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/input_file.hpp"
#include "ringmaster/heterogeneity.hpp"
#include "ringmaster/method.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace {

using namespace config_reading;  // NOLINT: the reader and its checks, config/reader.hpp

// ---------------------------------------------------------------------------------------------------
// What reaches toml++: at most this much text, and only the TOML subset of config/toml_subset.hpp.

constexpr std::size_t kMaxConfigBytes = std::size_t{1} << 20;  // a config file, or one --set value

std::string bytes_limit() { return std::to_string(kMaxConfigBytes) + " bytes (1 MiB)"; }

// ---------------------------------------------------------------------------------------------------
// Overrides: "section.key=value" with the value parsed as TOML, else taken as a bare string.

// "section.key=value" as its key and its value text, both trimmed; none without an '='.
std::optional<std::pair<std::string, std::string>> split_override(std::string_view text) {
  const auto eq = text.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  return std::pair{trim(text.substr(0, eq)), trim(text.substr(eq + 1))};
}

void apply_override(toml::table& root, const std::string& text, Overrides& applied) {
  const std::string origin = "--set " + shown(text);
  if (text.size() > kMaxConfigBytes)
    throw Error(origin + ": longer than " + bytes_limit() + ", the most a --set value may have");
  const auto parts = split_override(text);
  if (!parts) throw Error(origin + ": expected section.key=value");
  const auto& [key, raw] = *parts;
  // section.key, or section.sub.key for a subsection of the schema ([objective.mlp]).
  const auto dot = key.rfind('.');
  const std::string section = dot == std::string::npos ? std::string() : key.substr(0, dot);
  const std::string name = dot == std::string::npos ? std::string() : key.substr(dot + 1);
  const bool subsection = section.find('.') != std::string::npos;
  if (section.empty() || name.empty() || section.front() == '.')
    throw Error(origin + ": the key must be section.key (or section.subsection.key), got " + quote(key));
  if (subsection && find_section(section) == nullptr) throw Error(origin + ": " + unknown_subsection(section));

  // `3`, `1e-3`, `true`, `[1, 2]`, `"text"` are TOML values; text that is not (`sync`, `runs/a`) is a
  // bare string, so `--set run.method=sync` needs no shell quoting. A structure the subset does not have
  // (`{a = 1}`, `[[1]]`) is an error: the user meant a value no key takes.
  const std::string document = "v = " + raw;
  const auto refused = check_toml_subset(document);
  if (refused && refused->nesting) throw Error(origin + ": " + shown(key) + ": " + refused->what);
  toml::table parsed;  // stays empty (a bare string) for text the recognizer or toml++ refuses
  try {
    if (!refused) parsed = toml::parse(document, std::string_view(origin));
  } catch (const toml::parse_error&) {
    parsed = toml::table{};
  }
  toml::node* value = parsed.size() == 1 ? parsed.get("v") : nullptr;

  toml::table* target = &root;
  for (std::size_t begin = 0;;) {  // down the section's path, making the tables the file does not have
    const std::size_t end = std::min(section.find('.', begin), section.size());
    const std::string part = section.substr(begin, end - begin);
    if (!target->contains(part)) target->insert(part, toml::table{});
    toml::node* next = target->get(part);
    if (!next->is_table())
      throw Error(origin + ": cannot set " + shown(key) + ": " + shown(section.substr(0, end)) +
                  " is not a table in the config file (it is " + describe(*next) + ")");
    target = next->as_table();
    if (end == section.size()) break;
    begin = end + 1;
  }
  if (value != nullptr)
    value->visit([&](auto& v) { target->insert_or_assign(name, std::move(v)); });
  else if (is_utf8(raw))
    target->insert_or_assign(name, raw);
  else
    throw Error(origin + ": " + shown(key) + ": the value is not valid UTF-8 text");
  std::size_t order = 0;
  for (const auto& [k, o] : applied) order = std::max(order, o.order + 1);
  applied[key] = Override{origin, raw, order};
}

// The config file's text. Opened first and then examined (no race between a check and the open), without
// blocking (a FIFO with no writer), and read no further than the limit (`-c /dev/zero` must not read
// until memory runs out, on every rank).
std::string read_config_file(const std::string& path) {
  using Status = BoundedRead::Status;
  const std::string named = shown(path, kShownPath);
  BoundedRead file = read_bounded(path, kMaxConfigBytes);
  const std::string reason = std::generic_category().message(file.error);
  switch (file.status) {
    case Status::ok: return std::move(file.text);
    case Status::cannot_open: throw Error(named + ": cannot open config file: " + reason);
    case Status::cannot_read: throw Error(named + ": cannot read config file: " + reason);
    case Status::directory: throw Error(named + ": is a directory, not a config file");
    case Status::not_regular:
      throw Error(named + ": is not a regular file (a device, FIFO or socket); a config file must be one");
    case Status::too_large:
      throw Error(named + ": config file is larger than " + bytes_limit() + ", the most a config file may have");
  }
  throw std::logic_error("read_config_file: unhandled status");
}

toml::table parse_file(const std::string& path) {
  const std::string document = read_config_file(path);
  const std::string named = shown(path, kShownPath);
  if (auto refused = check_toml_subset(document))
    throw Error(named + ":" + std::to_string(refused->line) + ": " + refused->what);
  try {
    return toml::parse(document, std::string_view(path));
  } catch (const toml::parse_error& e) {
    const auto& at = e.source().begin;
    throw Error(named + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) +
                ": syntax error: " + shown(e.description()));
  }
}

}  // namespace

const std::string* find_override(const std::vector<std::string>& overrides, std::string_view key) {
  const std::string* found = nullptr;
  for (const std::string& text : overrides)
    if (const auto parts = split_override(text); parts && parts->first == key) found = &text;
  return found;
}

namespace {

// What the user set (in the file or by --set) that the MPI engine does not use, one line each, with where it
// was set: values left at their defaults are not mentioned.
std::vector<std::string> ignored_under_mpi(const Reader& r, const Config& c, int workers) {
  std::vector<std::string> notes;
  const Key run_workers{"run", "workers"};
  if (const std::string where = r.where(run_workers); !where.empty() && c.run.workers != workers)
    notes.push_back(where + "run.workers = " + std::to_string(c.run.workers) + " is ignored under MPI: the job's " +
                    std::to_string(workers + c.server.shards) + " ranks give " + std::to_string(workers) +
                    " workers (mpirun -np N+" + std::to_string(c.server.shards) + " for N workers, docs/method.md §1)");
  const Key compute{"heterogeneity", "compute_s"}, update{"heterogeneity", "server_update_s"};
  if (const std::string where = r.where(compute); !where.empty())
    notes.push_back(where + "heterogeneity.compute_s is ignored under MPI: compute is real here (docs/method.md §7)");
  if (const std::string where = r.where(update); !where.empty())
    notes.push_back(where + "heterogeneity.server_update_s is ignored under MPI: the server's time is real here "
                    "(docs/method.md §7)");
  return notes;
}

}  // namespace

Config load_config(const std::string& path, const std::vector<std::string>& overrides, int workers_from_engine,
                   ConfigFor engine, std::vector<std::string>* ignored) {
  toml::table root = path.empty() ? toml::table{} : parse_file(path);
  Overrides applied;
  for (const std::string& text : overrides) apply_override(root, text, applied);

  const Reader reader(root, path, std::move(applied));
  reader.check_known_keys();
  Config config;
  for (const KeyRow& row : key_table()) reader.read(row, config);
  check_heads(reader, config.objective.gpt);
  if (engine == ConfigFor::mpi) {
    // Ranks 0 … shards − 1 serve, the rest work (docs/method.md §1, §7 "Sharded server").
    const int shards = config.server.shards;
    if (workers_from_engine < shards + 1)
      reader.fail({"server", "shards"}, std::to_string(shards) + " server shard" + (shards == 1 ? "" : "s") +
                                            " and a worker need at least " + std::to_string(shards + 1) +
                                            " MPI ranks; the job has " + std::to_string(workers_from_engine));
    workers_from_engine -= shards;
  }
  if (engine == ConfigFor::mpi && ignored) *ignored = ignored_under_mpi(reader, config, workers_from_engine);
  if (workers_from_engine > 0) config.run.workers = workers_from_engine;  // MPI: ranks − shards (docs/method.md §1)
  check_consistency(reader, config, workers_from_engine > 0);
  if (engine != ConfigFor::model) load_trace(reader, config);
  if (engine == ConfigFor::simulator) check_simulator(reader, config);
  return config;
}

std::string to_toml(const Config& c) {
  std::string out = "# Ringmaster configuration, fully resolved (docs/method.md §9; keys in docs/configuration.md).\n";
  std::string_view section;
  for (const KeyRow& row : key_table()) {
    if (row.spec.type == KeyType::alias) continue;  // the full spelling is written
    if (row.section != section) (out += "\n[") += std::string(row.section) + "]\n";
    section = row.section;
    (out += row.name) += " = " + row.spec.write(c) + "\n";
  }
  return out;
}

namespace {


}  // namespace

std::uint64_t config_hash(const Config& config) {
  // Where to write, when to stop, how often to log or checkpoint, how many threads: the rows that do not
  // change results. A resumed run may change them. run.log_interrupts counts as changing results: it fixes
  // the columns of events.csv, which a resumed run appends to.
  const Config defaults;
  std::string text;
  for (const KeyRow& row : key_table()) {
    if (!row.results || row.spec.type == KeyType::alias) continue;
    const std::string value = row.spec.write(config);
    if (value != row.spec.write(defaults)) text += row.full() + " = " + value + "\n";
  }
  std::uint64_t hash = fnv1a(text);
  // A trace is part of the experiment by its content, not only its path (a file rewritten between a
  // checkpoint and its resume is another experiment).
  if (const auto& trace = config.heterogeneity.trace_times.trace)
    for (int w = 1; w <= trace->workers(); ++w)
      for (double t : trace->times(w)) hash = fnv1a(std::string_view(reinterpret_cast<const char*>(&t), sizeof t), hash);
  return hash;
}

std::uint64_t config_fingerprint(const Config& config) { return fnv1a(to_toml(config)); }

}  // namespace ringmaster
