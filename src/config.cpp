// Configuration loading (docs/method.md §9). toml++ parses the file and every `--set` value; this file maps the
// resulting table onto Config with strict checks. Every error names the key and where its value came
// from, so a user can fix it without reading code:
//   FILE:LINE: <what is outside the TOML a config uses> (...)  (config/toml_subset.hpp, before toml++)
//   FILE:LINE:COL: syntax error: <toml++ description>
//   FILE:LINE: section.key: <what is wrong>             (value from the file)
//   --set section.key=value: section.key: <what is wrong>  (value from the command line)
//   section.key: <what is wrong>                          (cross-check on a default value)
#include "ringmaster/config.hpp"

#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>
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

#include "config/toml_subset.hpp"
#include "objectives/text_corpus.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/input_file.hpp"
#include "ringmaster/heterogeneity.hpp"
#include "ringmaster/method.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace {

// ---------------------------------------------------------------------------------------------------
// The schema: every section and key load_config accepts, in the order of docs/method.md §9 (to_toml writes the
// same order). Adding a key means: a field in config.hpp, a line here, a line in read_*(), a line in
// to_toml(), a row in docs/configuration.md.

struct Section {
  std::string_view name;
  std::vector<std::string_view> keys;
};

const std::vector<Section>& schema() {
  static const std::vector<Section> sections = {
      {"run",
       {"method", "seed", "workers", "time_budget_s", "max_updates", "target_loss", "eval_every_s",
        "log_every_s", "log_interrupts", "out"}},
      {"method", {"stepsize", "momentum", "threshold", "batch", "stale", "nesterov"}},
      {"lmo", {"geometry", "vector_geometry", "backend", "ns_steps", "ns_coefficients", "scale"}},
      // The role table (docs/method.md §6 "Block roles"): one subsection per block role.
      {"lmo.matrix", {"geometry", "multiplier"}},
      {"lmo.embedding", {"geometry", "multiplier"}},
      {"lmo.head", {"geometry", "multiplier"}},
      {"lmo.vector", {"geometry", "multiplier"}},
      {"objective", {"kind", "rows", "cols", "blocks", "mu", "rhs", "rhs_scale", "x0", "x0_scale", "noise", "noise_kind"}},
      // A subsection: [objective.mlp] in a file, --set objective.mlp.key=value (see section_table).
      {"objective.mlp", {"hidden", "batch", "data_dir", "standardize", "eval_train_examples"}},
      {"objective.gpt",
       {"layers", "heads", "width", "context", "batch", "corpus", "validation_fraction", "eval_tokens",
        "eval_train_tokens"}},
      {"heterogeneity",
       {"profile", "power", "list", "profile_origin", "base_s", "offset_s", "noise", "noise_scale", "noise_growth",
        "mode", "outage_rate", "outage_s", "compute_s", "server_update_s", "trace"}},
      {"checkpoint", {"every_s"}},
      {"fault", {"max_bad", "worker_timeout_s", "inject", "inject_workers", "inject_after"}},
      {"sim", {"threads"}},
      {"server", {"threads", "shards"}},
  };
  return sections;
}

const Section* find_section(std::string_view name) {
  for (const Section& s : schema())
    if (s.name == name) return &s;
  return nullptr;
}

bool has_key(const Section& section, std::string_view key) {
  return std::find(section.keys.begin(), section.keys.end(), key) != section.keys.end();
}

// A section's table in the tree: "objective.mlp" is the table `mlp` inside `objective`.
const toml::table* section_table(const toml::table& root, std::string_view section) {
  const toml::table* table = &root;
  for (std::size_t begin = 0; table != nullptr;) {
    const std::size_t dot = section.find('.', begin);
    table = table->get_as<toml::table>(section.substr(begin, dot == std::string_view::npos ? dot : dot - begin));
    if (dot == std::string_view::npos) return table;
    begin = dot + 1;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------------
// Small text helpers.

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) (out += out.empty() ? "" : ", ") += w;
  return out;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return std::string(s.substr(first, last - first + 1));
}

// Shortest text that reads back as the same double (also what to_toml writes): TOML floats need a '.'
// or an exponent, so "60" becomes "60.0".
std::string format_double(double x) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  std::string text(buffer, result.ptr);
  if (std::isfinite(x) && text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string quote(std::string_view s) {
  // Built by appending: GCC 12 warns falsely (-Wrestrict, PR 105329) on "\"" + std::string(s) + "\"".
  std::string q(1, '"');
  q.append(shown(s)).push_back('"');
  return q;
}

// Edit distance with adjacent transpositions counted as one edit ("rnu" → "run" is 1), for suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The candidate closest to `word`, if it is close enough to be a plausible typo.
std::optional<std::string_view> closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (std::string_view c : candidates) {
    if (std::max(word.size(), c.size()) - std::min(word.size(), c.size()) > limit) continue;
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) best = c, best_distance = d;
  }
  return best;
}

// "integer 5", "string \"abc\"", "float 0.5", "array", ... for "expected X, got Y" messages.
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "string " + quote(**node.as_string());
    case toml::node_type::integer: return "integer " + std::to_string(**node.as_integer());
    case toml::node_type::floating_point: return "float " + format_double(**node.as_floating_point());
    case toml::node_type::boolean: return std::string("boolean ") + (**node.as_boolean() ? "true" : "false");
    case toml::node_type::array: return "array";
    case toml::node_type::table: return "table";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Bounds of a floating-point key, e.g. momentum ∈ [0, 1).
struct Bounds {
  double lo = -std::numeric_limits<double>::infinity();
  bool lo_strict = false;
  double hi = std::numeric_limits<double>::infinity();
  bool hi_strict = false;

  bool contains(double x) const {
    return (lo_strict ? x > lo : x >= lo) && (hi_strict ? x < hi : x <= hi);
  }
  std::string describe() const {
    if (std::isinf(hi)) return std::string(lo_strict ? "> " : ">= ") + format_double(lo);
    return std::string(lo_strict ? "in (" : "in [") + format_double(lo) + ", " + format_double(hi) +
           (hi_strict ? ")" : "]");
  }
};

constexpr Bounds kPositive{0.0, true};
constexpr Bounds kNonNegative{0.0, false};
// Durations: beyond kMaxSeconds (~31.7 years) a time only overflows conversions (chrono, the int64 grid
// of evaluations) and never ends a run.
constexpr Bounds kDuration{0.0, true, kMaxSeconds, false};
constexpr Bounds kDurationOrZero{0.0, false, kMaxSeconds, false};
constexpr Bounds kMomentumRange{0.0, false, 1.0, true};  // β ∈ [0, 1): α = 1 − β must be > 0

constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// ---------------------------------------------------------------------------------------------------
// What reaches toml++: at most this much text, and only the TOML subset of config/toml_subset.hpp.

constexpr std::size_t kMaxConfigBytes = std::size_t{1} << 20;  // a config file, or one --set value

std::string bytes_limit() { return std::to_string(kMaxConfigBytes) + " bytes (1 MiB)"; }

// "unknown subsection [lmo.hiden] (block roles: ...)": a table no schema section names.
std::string unknown_subsection(const std::string& sub) {
  const std::string parent = sub.substr(0, sub.rfind('.'));
  std::vector<std::string_view> known;
  for (const Section& s : schema())
    if (s.name.starts_with(parent + ".")) known.push_back(s.name.substr(parent.size() + 1));
  if (parent == "lmo")
    return "unknown block role [" + shown(sub) + "] (the roles of docs/method.md §6: " + join(known) + ")";
  return "unknown subsection [" + shown(sub) + "]" +
         (known.empty() ? " ([" + parent + "] has none)" : " (known: " + join(known) + ")");
}

// ---------------------------------------------------------------------------------------------------
// Overrides: "section.key=value" with the value parsed as TOML, else taken as a bare string.

struct Override {
  std::string origin;  // "--set section.key=value" (shortened), the prefix of its error messages
  std::string raw;     // the value text as typed (used as-is for string keys)
  std::size_t order = 0;  // position on the command line
};
using Overrides = std::map<std::string, Override, std::less<>>;  // by "section.key"; the last one wins

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

// ---------------------------------------------------------------------------------------------------
// Reader: typed, located access to the merged table.

struct Key {
  std::string_view section;
  std::string_view name;
  std::string full() const { return std::string(section) + "." + std::string(name); }
};

// "objective.gpt.width" as its section and name (views of `full`).
Key key_of(std::string_view full) {
  const std::size_t dot = full.rfind('.');
  return {full.substr(0, dot), full.substr(dot + 1)};
}

class Reader {
 public:
  Reader(const toml::table& root, std::string file, Overrides overrides)
      : root_(root), file_(shown(file, kShownPath)), overrides_(std::move(overrides)) {}

  // Unknown sections and keys, checked before any value so that a typo is reported as a typo.
  void check_known_keys() const {
    std::vector<std::string_view> section_names;  // top-level ones; a subsection lives in its section's table
    for (const Section& s : schema())
      if (s.name.find('.') == std::string_view::npos) section_names.push_back(s.name);
    for (auto&& [name, node] : root_) {
      const Section* section = name.str().find('.') == std::string_view::npos ? find_section(name.str()) : nullptr;
      if (section == nullptr) {
        const auto guess = closest(name.str(), section_names);
        throw Error(where_section(name.str(), node) + "unknown section [" + shown(name.str()) + "] " +
                    (guess ? "(did you mean [" + std::string(*guess) + "]?)"
                           : "(known sections: " + join(section_names) + ")"));
      }
      const toml::table* table = node.as_table();
      if (table == nullptr)
        throw Error(where_section(name.str(), node) + "[" + shown(name.str()) +
                    "] must be a table, got " + describe(node));
      check_keys(*section, *table);
    }
  }

  // The keys of one section's table; a table under a key that names a subsection ([objective.mlp]) is
  // checked as that section.
  void check_keys(const Section& section, const toml::table& table) const {
    for (auto&& [key, value] : table) {
      if (has_key(section, key.str())) continue;
      const std::string sub = std::string(section.name) + "." + std::string(key.str());
      const Section* subsection = find_section(sub);
      if (subsection != nullptr && value.is_table()) {
        check_keys(*subsection, *value.as_table());
        continue;
      }
      if (subsection != nullptr)
        throw Error(where_section(sub, value) + "[" + sub + "] must be a table, got " + describe(value));
      if (value.is_table()) throw Error(where_section(sub, value) + unknown_subsection(sub));
      fail(Key{section.name, key.str()}, "unknown key " + suggest_key(section, key.str()), &value);
    }
  }

  // "FILE:LINE: " for a file value (or `at`, an element of it), "--set k=v: " for an override, "" for a
  // default.
  std::string where(Key key, const toml::node* at = nullptr) const {
    if (auto it = overrides_.find(key.full()); it != overrides_.end()) return it->second.origin + ": ";
    const toml::node* node = at != nullptr ? at : find(key);
    if (node != nullptr && node->source().begin.line > 0)
      return file_ + ":" + std::to_string(node->source().begin.line) + ": ";
    return "";
  }

  [[noreturn]] void fail(Key key, const std::string& message, const toml::node* at = nullptr) const {
    throw Error(where(key, at) + shown(key.full()) + ": " + message);
  }

  bool present(Key key) const { return find(key) != nullptr; }

  // The key to name when a limit is on several keys together: the last of them set on the command line,
  // else the first one in the file, else the first.
  Key culprit(const std::vector<Key>& keys) const {
    const Key* found = nullptr;
    std::size_t latest = 0;
    for (const Key& k : keys) {
      auto it = overrides_.find(k.full());
      if (it != overrides_.end() && it->second.order >= latest) found = &k, latest = it->second.order + 1;
    }
    if (found != nullptr) return *found;
    for (const Key& k : keys)
      if (present(k)) return k;
    return *keys.begin();
  }

  // --- typed access: nullopt when the key is absent (the default stays) ---

  std::optional<std::string> text(Key key) const {
    const toml::node* node = known(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* s = node->as_string()) return **s;
    // On the command line a string key takes the text as typed, even when it happens to be valid TOML
    // of another type (`--set run.out=2024-06-01`).
    if (auto it = overrides_.find(key.full()); it != overrides_.end()) return it->second.raw;
    fail(key, "expected a string, got " + describe(*node));
  }

  std::optional<bool> boolean(Key key) const {
    const toml::node* node = known(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* b = node->as_boolean()) return **b;
    fail(key, "expected a boolean (true or false), got " + describe(*node));
  }

  // Integers are also accepted where floats are expected; nan and inf never are.
  std::optional<double> number(Key key) const {
    const toml::node* node = known(key);
    if (node == nullptr) return std::nullopt;
    return number_of(key, *node);
  }

  // Floats are accepted where integers are expected only if integral and exact (`1e6` for max_updates).
  std::optional<std::int64_t> integer(Key key) const {
    const toml::node* node = known(key);
    if (node == nullptr) return std::nullopt;
    if (const auto* i = node->as_integer()) return **i;
    if (const auto* f = node->as_floating_point()) {
      const double x = **f;
      constexpr double kExact = 9007199254740992.0;  // 2^53: every integer up to here is a double
      if (std::isfinite(x) && x == std::floor(x) && std::abs(x) <= kExact) return static_cast<std::int64_t>(x);
    }
    fail(key, "expected an integer, got " + describe(*node));
  }

  std::optional<std::vector<double>> numbers(Key key, Bounds bounds) const {
    const toml::node* node = known(key);
    if (node == nullptr) return std::nullopt;
    const toml::array* array = node->as_array();
    if (array == nullptr) fail(key, "expected an array of numbers, got " + describe(*node));
    std::vector<double> values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      const double x = number_of(key, element, i);
      if (!bounds.contains(x))
        fail(key, "entry " + std::to_string(i) + " must be " + bounds.describe() + ", got " + format_double(x),
             &element);
      values.push_back(x);
    }
    return values;
  }

  // --- read-and-check into a Config field (absent key: the default stays, and is valid) ---

  void set(Key key, double& out, Bounds bounds) const {
    if (auto x = number(key)) {
      if (!bounds.contains(*x)) fail(key, "must be " + bounds.describe() + ", got " + format_double(*x));
      out = *x;
    }
  }

  template <class Int>
  void set(Key key, Int& out, std::int64_t lo, std::int64_t hi) const {
    if (auto x = integer(key)) {
      // "must be >= 1" when only the lower bound matters; the full range when there is a real upper one
      // or the value is above the representable maximum.
      const bool open_above = (hi == kInt64Max || hi == kIntMax) && *x < lo;
      if (*x < lo || *x > hi)
        fail(key, "must be " +
                      (open_above ? ">= " + std::to_string(lo)
                                  : "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]") +
                      ", got " + std::to_string(*x));
      out = static_cast<Int>(*x);
    }
  }

  // A number key that also takes one word (heterogeneity.compute_s = "measure"): true when the word was given.
  bool set_or_word(Key key, double& out, Bounds bounds, std::string_view word) const {
    const toml::node* node = known(key);
    if (node == nullptr) return false;
    if (node->is_number()) {
      set(key, out, bounds);
      return false;
    }
    const std::optional<std::string> s = node->is_string() ? text(key) : std::nullopt;
    if (s == word) return true;
    fail(key, "expected a number " + bounds.describe() + " or the string " + quote(word) + ", got " +
                  (s ? quote(*s) : describe(*node)));
  }

  void set(Key key, bool& out) const {
    if (auto b = boolean(key)) out = *b;
  }

  void set(Key key, std::string& out) const {
    if (auto s = text(key)) out = *s;
  }

  // A name of a registry (run.method, objective.kind).
  void set_choice(Key key, std::string& out, const std::vector<std::string_view>& choices) const {
    if (auto s = text(key)) {
      if (std::find(choices.begin(), choices.end(), *s) == choices.end()) fail(key, unknown_value(*s, choices));
      out = *s;
    }
  }

  template <class Enum, std::size_t N>
  void set_choice(Key key, Enum& out, const Choices<Enum, N>& choices) const {
    set_enum(key, out, [&choices](const std::string& s) { return choices.parse(s); });
  }

  // Enums owned by other modules: their parse_* throws Error listing the accepted names; we add the key
  // and the location.
  template <class Enum, class Parse>
  void set_enum(Key key, Enum& out, Parse parse) const {
    if (auto s = text(key)) {
      try {
        out = parse(*s);
      } catch (const Error& e) {
        fail(key, e.what());
      }
    }
  }

 private:
  const toml::node* find(Key key) const {
    const toml::table* section = section_table(root_, key.section);
    return section != nullptr ? section->get(key.name) : nullptr;
  }

  // find() for keys the reading code asks for: they must be in the schema (catches drift between the
  // schema, read_*() and to_toml()).
  const toml::node* known(Key key) const {
    const Section* section = find_section(key.section);
    if (section == nullptr || !has_key(*section, key.name))
      throw std::logic_error("config.cpp reads " + key.full() + ", which is not in schema()");
    return find(key);
  }

  double number_of(Key key, const toml::node& node, std::optional<std::size_t> index = std::nullopt) const {
    const std::string what = index ? "entry " + std::to_string(*index) + ": " : "";
    double x = 0.0;
    if (const auto* i = node.as_integer())
      x = static_cast<double>(**i);
    else if (const auto* f = node.as_floating_point())
      x = **f;
    else
      fail(key, what + "expected a number, got " + describe(node), &node);
    if (!std::isfinite(x)) fail(key, what + "must be a finite number, got " + format_double(x), &node);
    return x;
  }

  std::string where_section(std::string_view section, const toml::node& node) const {
    const std::string prefix = std::string(section) + ".";
    for (const auto& [key, o] : overrides_)
      if (key.starts_with(prefix)) return o.origin + ": ";
    if (node.source().begin.line > 0) return file_ + ":" + std::to_string(node.source().begin.line) + ": ";
    return "";
  }

  // "(did you mean run.method?)": a close key in the same section, or the same key in another section.
  static std::string suggest_key(const Section& section, std::string_view key) {
    if (auto guess = closest(key, section.keys))
      return "(did you mean " + std::string(section.name) + "." + std::string(*guess) + "?)";
    for (const Section& other : schema())
      if (has_key(other, key))
        return "(did you mean " + std::string(other.name) + "." + std::string(key) + "? it belongs in [" +
               std::string(other.name) + "])";
    return "(known keys in [" + std::string(section.name) + "]: " + join(section.keys) + ")";
  }

  const toml::table& root_;
  std::string file_;
  Overrides overrides_;
};

// ---------------------------------------------------------------------------------------------------
// The sections, in the order of docs/method.md §9.

void read_run(const Reader& r, RunConfig& run) {
  r.set_choice({"run", "method"}, run.method, method_names());
  r.set({"run", "seed"}, run.seed, 0, kInt64Max);
  r.set({"run", "workers"}, run.workers, 1, kIntMax);
  r.set({"run", "time_budget_s"}, run.time_budget_s, kDuration);
  r.set({"run", "max_updates"}, run.max_updates, 0, kInt64Max);
  r.set({"run", "target_loss"}, run.target_loss, kNonNegative);
  r.set({"run", "eval_every_s"}, run.eval_every_s, kDuration);  // with time_budget_s: check_consistency
  // A progress line at most every 10 ms: below that it is one line per arrival, a flood, not progress.
  r.set({"run", "log_every_s"}, run.log_every_s, Bounds{0.01, false, kMaxSeconds, false});
  r.set_choice({"run", "log_interrupts"}, run.log_interrupts, kLogInterruptsNames);
  r.set({"run", "out"}, run.out);
}

void read_method(const Reader& r, MethodConfig& method) {
  r.set({"method", "stepsize"}, method.stepsize, kPositive);
  r.set({"method", "momentum"}, method.momentum, kMomentumRange);
  r.set({"method", "threshold"}, method.threshold, 1, kIntMax);
  r.set({"method", "batch"}, method.batch, 1, kIntMax);
  r.set_choice({"method", "stale"}, method.stale, kStaleNames);
  r.set({"method", "nesterov"}, method.nesterov);
}

// The role table: [lmo.<role>] geometry and multiplier for every role of docs/method.md §6. lmo.geometry
// and lmo.vector_geometry (docs/method.md §9) are shorthands of lmo.matrix.geometry and
// lmo.vector.geometry: one field, two spellings, so setting both spellings is refused.
void read_roles(const Reader& r, RoleTable& roles) {
  for (Role role : all_roles()) {
    const std::string section = "lmo." + to_string(role);
    r.set_enum({section, "geometry"}, roles[role].geometry, parse_geometry);
    // A stepsize multiplier: beyond 1e6 a step is no longer a step of the method's γ.
    r.set({section, "multiplier"}, roles[role].multiplier, Bounds{0.0, true, 1e6, false});
  }
  for (auto [shorthand, role] : {std::pair{"geometry", Role::matrix}, std::pair{"vector_geometry", Role::vector}}) {
    const std::string section = "lmo." + to_string(role);
    const Key brief{"lmo", shorthand}, full{section, "geometry"};
    if (r.present(brief) && r.present(full))
      r.fail(r.culprit({brief, full}), "set twice: lmo." + std::string(shorthand) + " is the shorthand of " +
                                           section + ".geometry; set one of them");
    r.set_enum(brief, roles[role].geometry, parse_geometry);
  }
}

void read_lmo(const Reader& r, LmoConfig& lmo) {
  read_roles(r, lmo.roles);
  r.set_enum({"lmo", "backend"}, lmo.backend, parse_backend);
  r.set({"lmo", "ns_steps"}, lmo.ns_steps, 1, 100);
  r.set_enum({"lmo", "ns_coefficients"}, lmo.ns_coefficients, parse_ns_coefficients);
  r.set_enum({"lmo", "scale"}, lmo.scale, parse_step_scale);
}

void read_objective(const Reader& r, ObjectiveConfig& objective) {
  r.set_choice({"objective", "kind"}, objective.kind, objective_names());
  r.set({"objective", "rows"}, objective.rows, 1, kIntMax);
  r.set({"objective", "cols"}, objective.cols, 1, kIntMax);
  r.set({"objective", "blocks"}, objective.blocks, 1, 4096);
  r.set({"objective", "mu"}, objective.mu, kNonNegative);  // A = tridiag/4 + μI is positive definite for μ ≥ 0
  r.set_choice({"objective", "rhs"}, objective.rhs, kRhsNames);
  // Scales up to 10^6 in size: beyond that the float parameters no longer hold the problem's scale.
  constexpr Bounds kScale{-1e6, false, 1e6, false};
  r.set({"objective", "rhs_scale"}, objective.rhs_scale, kScale);
  r.set_choice({"objective", "x0"}, objective.x0, kX0Names);
  objective.x0_scale_sqrt_d = r.set_or_word({"objective", "x0_scale"}, objective.x0_scale, kScale, "sqrt-d");
  r.set({"objective", "noise"}, objective.noise, kNonNegative);
  r.set_choice({"objective", "noise_kind"}, objective.noise_kind, kGradientNoiseNames);
}

// [objective.mlp] (docs/method.md §6). Widths up to 16384 and 16 hidden layers: beyond that the network is no
// longer a small Fashion-MNIST model, and its parameter count is checked against memory (check_memory).
void read_mlp(const Reader& r, MlpConfig& mlp) {
  const Key hidden{"objective.mlp", "hidden"};
  if (auto widths = r.numbers(hidden, Bounds{1.0, false, 16384.0, false})) {
    if (widths->size() > 16) r.fail(hidden, "at most 16 hidden layers, got " + std::to_string(widths->size()));
    mlp.hidden.clear();
    for (std::size_t i = 0; i < widths->size(); ++i) {
      const double w = (*widths)[i];
      if (w != std::floor(w)) r.fail(hidden, "entry " + std::to_string(i) + " must be an integer, got " + format_double(w));
      mlp.hidden.push_back(static_cast<int>(w));
    }
  }
  // A minibatch and the evaluation subset are drawn from the 60,000 training images.
  r.set({"objective.mlp", "batch"}, mlp.batch, 1, 60000);
  r.set({"objective.mlp", "data_dir"}, mlp.data_dir);
  if (mlp.data_dir.empty()) r.fail({"objective.mlp", "data_dir"}, "must name the directory of the IDX .gz files");
  r.set({"objective.mlp", "standardize"}, mlp.standardize);
  r.set({"objective.mlp", "eval_train_examples"}, mlp.eval_train_examples, 1, 60000);
}

// [objective.gpt] (docs/method.md §6). Bounds keep a byte-level model a model for CPUs: at most 64 blocks,
// 128 heads, width and context 8192; its parameters and the activations of a batch are checked against
// memory (check_memory). The evaluation sizes are capped at run time by what the corpus holds.
void read_gpt(const Reader& r, GptConfig& gpt) {
  constexpr std::string_view section = "objective.gpt";
  const Key heads{section, "heads"}, width{section, "width"}, corpus{section, "corpus"};
  r.set({section, "layers"}, gpt.layers, 1, 64);
  r.set(heads, gpt.heads, 1, 128);
  r.set(width, gpt.width, 2, 8192);
  r.set({section, "context"}, gpt.context, 1, 8192);
  r.set({section, "batch"}, gpt.batch, 1, 65536);
  r.set(corpus, gpt.corpus);
  if (gpt.corpus.empty()) r.fail(corpus, "must name a text file or a directory of text files");
  // Both splits must hold documents: the fraction is of the documents, at least one on each side.
  r.set({section, "validation_fraction"}, gpt.validation_fraction, Bounds{0.0, true, 1.0, true});
  r.set({section, "eval_tokens"}, gpt.eval_tokens, 1, kIntMax);
  r.set({section, "eval_train_tokens"}, gpt.eval_train_tokens, 1, kIntMax);
  // Each head takes width / heads coordinates, and rotary positions turn them in pairs.
  if (gpt.width % gpt.heads != 0)
    r.fail(r.culprit({width, heads}), "objective.gpt.width = " + std::to_string(gpt.width) +
                                          " is not divisible by objective.gpt.heads = " + std::to_string(gpt.heads) +
                                          " (each head takes width / heads of the width)");
  if ((gpt.width / gpt.heads) % 2 != 0)
    r.fail(r.culprit({width, heads}), "the head dimension objective.gpt.width / objective.gpt.heads = " +
                                          std::to_string(gpt.width) + " / " + std::to_string(gpt.heads) + " = " +
                                          std::to_string(gpt.width / gpt.heads) +
                                          " must be even (rotary positions turn pairs of coordinates)");
}

void read_heterogeneity(const Reader& r, HeterogeneityConfig& h) {
  r.set_choice({"heterogeneity", "profile"}, h.profile, kProfileNames);
  r.set({"heterogeneity", "power"}, h.power, kNonNegative);  // with base_s and workers: check_consistency
  if (auto list = r.numbers({"heterogeneity", "list"}, kPositive)) h.list = *list;
  r.set({"heterogeneity", "profile_origin"}, h.profile_origin, 0, 1);
  r.set({"heterogeneity", "base_s"}, h.base_s, kDurationOrZero);
  r.set({"heterogeneity", "offset_s"}, h.offset_s, kDurationOrZero);
  r.set_choice({"heterogeneity", "noise"}, h.noise, kDelayNoiseNames);
  r.set({"heterogeneity", "noise_scale"}, h.noise_scale, kNonNegative);  // per noise: check_consistency
  // (i + 1)^q up to q = 100; with the number of workers: check_progress.
  h.noise_relative = r.set_or_word({"heterogeneity", "noise_growth"}, h.noise_growth,
                                   Bounds{0.0, false, 100.0, false}, "delay") ||
                     !r.present({"heterogeneity", "noise_growth"});
  r.set({"heterogeneity", "trace"}, h.trace);  // loaded with the number of workers: check_consistency
  r.set_choice({"heterogeneity", "mode"}, h.mode, kDelayModeNames);
  // At most 10^6 outages per second of busy time: the mean number per gradient stays a countable number.
  r.set({"heterogeneity", "outage_rate"}, h.outage_rate, Bounds{0.0, false, 1e6, false});
  r.set({"heterogeneity", "outage_s"}, h.outage_s, kDurationOrZero);
  h.measure_compute = r.set_or_word({"heterogeneity", "compute_s"}, h.compute_s, kDurationOrZero, "measure");
  h.measure_server_update =
      r.set_or_word({"heterogeneity", "server_update_s"}, h.server_update_s, kDurationOrZero, "measure");
}

// Settings that are each valid but contradict one another.
void read_checkpoint(const Reader& r, CheckpointConfig& c) {
  r.set({"checkpoint", "every_s"}, c.every_s, kDurationOrZero);
}

void read_fault(const Reader& r, FaultConfig& f) {
  r.set({"fault", "max_bad"}, f.max_bad, 1, kIntMax);
  r.set({"fault", "worker_timeout_s"}, f.worker_timeout_s, kDurationOrZero);
  r.set_choice({"fault", "inject"}, f.inject, kFaultNames);
  if (auto workers = r.numbers({"fault", "inject_workers"}, kPositive)) f.inject_workers = *workers;
  r.set({"fault", "inject_after"}, f.inject_after, 0, kInt64Max);
}

void read_sim(const Reader& r, SimConfig& sim) { r.set({"sim", "threads"}, sim.threads, 0, 1024); }

void read_server(const Reader& r, ServerConfig& server) {
  r.set({"server", "threads"}, server.threads, 0, 1024);
  r.set({"server", "shards"}, server.shards, 1, 256);
}

// --- Limits that keep a run making progress: every value accepted must give a run
// that advances and ends. Each follows from what the code does with the keys it names.

std::string sci(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", x);
  return buffer;
}

// s of the first and the last worker, docs/method.md §5 (every profile is monotone in i: power ≥ 0).
// A trace has no slowdown: its seconds are bounded by DelayTrace::load.
double slowdown_min(const HeterogeneityConfig& h) {
  if (h.profile == Profile::trace) return 1.0;
  if (h.profile == Profile::list) return h.list.empty() ? 1.0 : *std::min_element(h.list.begin(), h.list.end());
  return profile_slowdown(h, 1);
}
double slowdown_max(const HeterogeneityConfig& h, int workers) {
  if (h.profile == Profile::trace) return 1.0;
  if (h.profile == Profile::list) return h.list.empty() ? 1.0 : *std::max_element(h.list.begin(), h.list.end());
  return profile_slowdown(h, workers);
}

// How s_n was computed, for messages: the last worker's profile index is n − 1 + profile_origin.
std::string slowdown_text(const HeterogeneityConfig& h, int workers) {
  const std::string n = std::to_string(workers - 1 + h.profile_origin);
  if (h.profile == Profile::sqrt) return "sqrt(" + n + ")";
  if (h.profile == Profile::linear) return n;
  if (h.profile == Profile::power) return n + "^" + format_double(h.power);
  if (h.profile == Profile::list) return "max(heterogeneity.list)";
  return "1";
}

// The parameters of the quadratic (docs/method.md §6) are the big allocations: x, m, the arriving gradient, the
// workers' snapshots of x, the objective's B and X* (double) and its scratch, the LMO's workspace.
// Measured: about 18 floats per parameter with one worker (`simulate`, rows = cols = 2000: 295 MB);
// 16 is used as a lower bound, so a run that fits is never refused. Checked against what this process
// may use (physical memory and swap, and RLIMIT_AS/RLIMIT_DATA): with overcommit a too-large run is not
// refused by malloc but killed by the OOM killer once it touches its pages, so catching bad_alloc is
// only the backstop (engine_sim.cpp).
constexpr double kFloatsPerParameter = 16.0;
constexpr double kBytesPerWorker = 8192.0;  // the server's and the simulator's per-worker state and streams

double memory_limit_bytes() {
  double limit = std::numeric_limits<double>::infinity();
  struct sysinfo info {};
  if (::sysinfo(&info) == 0)
    limit = (static_cast<double>(info.totalram) + static_cast<double>(info.totalswap)) * info.mem_unit;
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit rl {};
    if (::getrlimit(resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      limit = std::min(limit, static_cast<double>(rl.rlim_cur));
  }
  return limit;
}

// The objective's registry row says what it needs (ObjectiveSize); the blame goes to what dominates: its
// data, its network, or the workers.
void check_memory(const Reader& r, const Config& c) {
  const ObjectiveSize size = objective_row(c.objective.kind).size(c);
  const double for_parameters =
      size.parameters * kFloatsPerParameter * sizeof(float) + size.extra_bytes + size.data_bytes;
  const double for_workers = static_cast<double>(c.run.workers) * kBytesPerWorker;
  const double limit = memory_limit_bytes();
  if (for_parameters + for_workers <= limit) return;
  const std::string needs = " at least " + sci(for_parameters + for_workers) + " bytes";
  const std::string more = ", more than the " + sci(limit) +
                           " bytes of memory (RAM + swap, or the process limit) this process may use";
  if (size.data_bytes > 0.0 && size.data_bytes >= for_parameters - size.data_bytes && size.data_bytes >= for_workers)
    r.fail(key_of(size.data_key), size.data + ": with the network the run needs" + needs + more);
  if (for_parameters >= for_workers) {
    std::vector<Key> keys;
    for (const std::string& k : size.keys) keys.push_back(key_of(k));
    const std::string beside = (size.extra_bytes > 0.0 ? ", and " + sci(size.extra_bytes) + " bytes of activations" : "") +
                               (size.data_bytes > 0.0 ? ", and " + sci(size.data_bytes) + " bytes of data" : "");
    r.fail(r.culprit(keys), size.shape + ": " + sci(size.parameters) + " parameters need" + needs + " (" +
                                sci(kFloatsPerParameter) + " floats per parameter: x, m, gradients, snapshots and LMO "
                                "scratch" + beside + ")" + more);
  }
  r.fail({"run", "workers"}, std::to_string(c.run.workers) + " workers need" + needs + more);
}

void check_progress(const Reader& r, const Config& c) {
  const RunConfig& run = c.run;
  const HeterogeneityConfig& h = c.heterogeneity;
  const Key budget{"run", "time_budget_s"}, eval{"run", "eval_every_s"};
  const Key base{"heterogeneity", "base_s"}, noise_scale{"heterogeneity", "noise_scale"};
  const Key profile{"heterogeneity", "profile"}, power{"heterogeneity", "power"}, list{"heterogeneity", "list"};

  // The evaluation grid: eval.csv gets time_budget_s / eval_every_s rows, indexed by an int64 (recorder).
  constexpr double kMaxEvaluations = 1e7;
  if (run.time_budget_s / run.eval_every_s > kMaxEvaluations)
    r.fail(r.culprit({eval, budget}),
           "run.time_budget_s / run.eval_every_s = " + format_double(run.time_budget_s) + " / " +
               format_double(run.eval_every_s) + " = " + sci(run.time_budget_s / run.eval_every_s) +
               " evaluations, more than 1e7; eval_every_s must be >= time_budget_s / 1e7 = " +
               sci(run.time_budget_s / kMaxEvaluations));

  // The deterministic delay of the slowest worker: base_s · s_n seconds (additive), or s_n times its
  // measured compute (multiplicative); past kMaxSeconds the worker never reports within any budget and
  // n^power overflows to inf.
  const double s_max = slowdown_max(h, run.workers);
  const double longest = h.mode == DelayMode::additive ? h.base_s * s_max : s_max;
  if (!(longest <= kMaxSeconds)) {
    const Key key = r.culprit({base, power, list, profile, {"run", "workers"}});
    const std::string s_n = "s_n = " + slowdown_text(h, run.workers) + " = " + sci(s_max);
    if (h.mode == DelayMode::additive)
      r.fail(key, "heterogeneity.base_s x s_n = " + format_double(h.base_s) + " x " + sci(s_max) + " = " +
                      sci(longest) + " seconds per gradient for the slowest worker (" + s_n + "), more than 1e9");
    r.fail(key, s_n + ", the slowest worker's multiple of its compute time (mode = \"multiplicative\"), is more "
                "than 1e9");
  }

  // Noise (docs/method.md §5). halfnormal and exponential add c·base·s_i·|Z| (resp. ·E): a noise a million times
  // the delay is no longer noise, and the bound keeps the product finite. lognormal (a factor
  // exp(cZ − c²/2)) is bounded where it matters, in the simulator (check_simulator); a huge draw is
  // clamped (DelayModel).
  if ((h.noise == DelayNoise::halfnormal || h.noise == DelayNoise::exponential) && h.noise_scale > 1e6)
    r.fail(noise_scale, "must be in [0.0, 1e6] for noise = " + quote(kDelayNoiseNames.name(h.noise)) + ", got " + format_double(h.noise_scale));
  // Noise that grows with the index: c · (i + 1)^q seconds for the last worker, i + 1 = n + profile_origin.
  const Key growth{"heterogeneity", "noise_growth"};
  if (!h.noise_relative && h.noise != DelayNoise::none) {
    if (h.noise == DelayNoise::lognormal)
      r.fail(growth, "a number needs noise = \"halfnormal\" or \"exponential\" (lognormal noise is a factor of the "
                     "delay); use noise_growth = \"delay\"");
    const double last = h.noise_scale * std::pow(run.workers + h.profile_origin, h.noise_growth);
    if (!(last <= kMaxSeconds))
      r.fail(r.culprit({growth, noise_scale, {"run", "workers"}}),
             "heterogeneity.noise_scale x (n + profile_origin)^noise_growth = " + format_double(h.noise_scale) +
                 " x " + std::to_string(run.workers + h.profile_origin) + "^" + format_double(h.noise_growth) +
                 " = " + sci(last) + " seconds of noise scale for the slowest worker, more than 1e9");
  }
  // The deterministic delay with its offset.
  if (h.mode == DelayMode::additive && !(h.offset_s + h.base_s * s_max <= kMaxSeconds))
    r.fail(r.culprit({{"heterogeneity", "offset_s"}, base}),
           "heterogeneity.offset_s + base_s x s_n = " + sci(h.offset_s + h.base_s * s_max) +
               " seconds per gradient for the slowest worker, more than 1e9");
}

// Only the simulator: a gradient costs heterogeneity.compute_s of virtual time plus its injected delay
// (docs/method.md §7); with compute_s = 0, base_s · s_i is all the time a gradient takes, and the run
// ends only when virtual time reaches time_budget_s.
void check_simulator(const Reader& r, const Config& c) {
  const HeterogeneityConfig& h = c.heterogeneity;
  const Key base{"heterogeneity", "base_s"};
  const bool computes = h.measure_compute || h.compute_s > 0.0;
  if (h.mode == DelayMode::multiplicative && !computes)
    r.fail({"heterogeneity", "mode"},
           "\"multiplicative\" needs a compute time, and heterogeneity.compute_s is 0 (compute cost is zero on "
           "the virtual clock); set compute_s (a number or \"measure\") or use mode = \"additive\"");
  if (h.base_s <= 0.0 && h.offset_s <= 0.0 && !computes && h.profile != Profile::trace)
    r.fail(base, "must be > 0 in the simulator when heterogeneity.compute_s = 0 and offset_s = 0 (compute cost is "
                 "zero on the virtual clock, so offset_s + base_s · s_i is all the time a gradient takes)");
  // A measured compute time is known only at the start: the bound below cannot be checked here.
  if (h.measure_compute) return;
  // Without max_updates the run ends only when virtual time reaches time_budget_s: bound the gradients
  // the fastest worker computes until then. Its typical delay is base_s · s_1, times the median
  // exp(−c²/2) of the lognormal factor: interrupts abandon the long draws of a heavy tail, so virtual
  // time advances at the pace of the typical draw, not of the mean (c = 3 with the default config:
  // ~10^4 arrivals per virtual second).
  if (c.run.max_updates > 0) return;
  constexpr double kMaxGradientsPerWorker = 1e7;
  const double median_factor = h.noise == DelayNoise::lognormal ? std::exp(-0.5 * h.noise_scale * h.noise_scale) : 1.0;
  if (h.profile == Profile::trace) {
    // A replayed worker takes its rows' mean per gradient; the fastest worker bounds the run's length.
    double fastest = kMaxSeconds;
    for (int w = 1; w <= c.run.workers; ++w) {
      const std::vector<double>& times = h.trace_times.trace->times(w);
      double sum = 0.0;
      for (double t : times) sum += t;
      fastest = std::min(fastest, h.compute_s + sum / static_cast<double>(times.size()));
    }
    if (!(c.run.time_budget_s / fastest <= kMaxGradientsPerWorker))
      r.fail(r.culprit({{"heterogeneity", "trace"}, {"run", "time_budget_s"}}),
             "run.time_budget_s / (heterogeneity.compute_s + the fastest worker's mean seconds in the trace) = " +
                 format_double(c.run.time_budget_s) + " / " + sci(fastest) + " = " + sci(c.run.time_budget_s / fastest) +
                 " gradients for the fastest worker, more than 1e7: the simulation would not reach the time budget in "
                 "reasonable time (set run.max_updates, heterogeneity.compute_s, or a shorter time_budget_s)");
    return;
  }
  const double fastest = h.mode == DelayMode::multiplicative
                             ? h.compute_s * slowdown_min(h)
                             : h.compute_s + h.offset_s + h.base_s * slowdown_min(h) * median_factor;
  const double gradients = c.run.time_budget_s / fastest;
  if (!(gradients <= kMaxGradientsPerWorker)) {
    const std::string factor = h.noise == DelayNoise::lognormal ? " x exp(-noise_scale^2/2)" : "";
    const std::string factor_value = h.noise == DelayNoise::lognormal ? " x " + sci(median_factor) : "";
    const std::string offset = h.offset_s > 0.0 ? "heterogeneity.offset_s + " : "";
    const std::string offset_value = h.offset_s > 0.0 ? format_double(h.offset_s) + " + " : "";
    r.fail(r.culprit({base, {"heterogeneity", "list"}, {"heterogeneity", "noise_scale"}, {"heterogeneity", "offset_s"},
                      {"heterogeneity", "profile_origin"}, {"run", "time_budget_s"}}),
           "run.time_budget_s / (" + offset + "heterogeneity.base_s x s_1" + factor + ") = " +
               format_double(c.run.time_budget_s) + " / (" + offset_value + format_double(h.base_s) + " x " +
               sci(slowdown_min(h)) + factor_value + ") = " +
               sci(gradients) + " gradients for the fastest worker, more than 1e7: the simulation would not reach "
               "the time budget in reasonable time (set run.max_updates, or a shorter time_budget_s)");
  }
}

// profile = "trace": the file is read now, with the number of workers known, so that a malformed trace is
// an error naming the key and the file's line before any run directory exists (docs/method.md §5).
void load_trace(const Reader& r, Config& c) {
  HeterogeneityConfig& h = c.heterogeneity;
  if (h.profile != Profile::trace) return;
  try {
    h.trace_times.trace = DelayTrace::load(h.trace, c.run.workers);
  } catch (const Error& e) {
    r.fail({"heterogeneity", "trace"}, e.what());
  }
}

void check_consistency(const Reader& r, const Config& c, bool workers_from_engine) {
  const Key inject_workers{"fault", "inject_workers"};
  for (double w : c.fault.inject_workers)
    if (w != std::floor(w) || w > c.run.workers)
      r.fail(inject_workers, "entries must be worker indices 1.." + std::to_string(c.run.workers) + ", got " +
                                 format_double(w));
  const Key list{"heterogeneity", "list"};
  const Key profile{"heterogeneity", "profile"};
  const HeterogeneityConfig& h = c.heterogeneity;
  if (h.profile == Profile::list) {
    if (h.list.size() != static_cast<std::size_t>(c.run.workers)) {
      const std::string where = r.present(list) ? r.where(list) : r.where(profile);
      throw Error(where + list.full() + ": has " + std::to_string(h.list.size()) + " entries but there are " +
                  std::to_string(c.run.workers) + " workers (" +
                  (workers_from_engine ? "MPI ranks - server.shards" : "run.workers") +
                  "); profile = \"list\" needs one s_i per worker");
    }
  } else if (!h.list.empty()) {
    r.fail(list, "is only used with profile = \"list\" (profile is " + quote(kProfileNames.name(h.profile)) + ")");
  }
  const Key trace{"heterogeneity", "trace"};
  if (h.profile == Profile::trace) {
    if (h.trace.empty()) r.fail(profile, "\"trace\" needs heterogeneity.trace, the CSV file of per-worker seconds");
    if (h.mode == DelayMode::multiplicative)
      r.fail({"heterogeneity", "mode"}, "\"multiplicative\" does not apply to profile = \"trace\" (a trace gives "
                                        "seconds, not multiples of the compute time)");
  } else if (!h.trace.empty()) {
    r.fail(trace, "is only used with profile = \"trace\" (profile is " + quote(kProfileNames.name(h.profile)) + ")");
  }
  if (h.outage_rate > 0.0 && h.outage_s <= 0.0)
    r.fail({"heterogeneity", "outage_s"}, "must be > 0 when heterogeneity.outage_rate > 0 (outage_rate = " +
                                              format_double(h.outage_rate) + ")");
  const std::int64_t size = static_cast<std::int64_t>(c.objective.rows) * c.objective.cols;
  if (size > kIntMax)
    r.fail({"objective", "cols"}, "rows x cols = " + std::to_string(size) + " exceeds " + std::to_string(kIntMax));
  if (size * c.objective.blocks > kIntMax)
    r.fail({"objective", "blocks"}, "rows x cols x blocks = " + std::to_string(size * c.objective.blocks) +
                                        " exceeds " + std::to_string(kIntMax));
  check_memory(r, c);
  check_progress(r, c);
}

// ---------------------------------------------------------------------------------------------------
// to_toml: values formatted so toml++ reads them back bit-exactly.

std::string toml_string(const std::string& s) {
  // toml++ does the escaping; basic (double-quoted) strings, with non-ASCII text kept as it is.
  const toml::value<std::string> value(s);
  std::ostringstream out;
  out << toml::toml_formatter{value, toml::format_flags::allow_unicode_strings};
  return out.str();
}

std::string toml_array(const std::vector<double>& xs) {
  std::string out = "[";
  for (std::size_t i = 0; i < xs.size(); ++i) out += (i ? ", " : "") + format_double(xs[i]);
  return out + "]";
}

}  // namespace

const std::string* find_override(const std::vector<std::string>& overrides, std::string_view key) {
  const std::string* found = nullptr;
  for (const std::string& text : overrides)
    if (const auto parts = split_override(text); parts && parts->first == key) found = &text;
  return found;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides, int workers_from_engine,
                   ConfigFor engine) {
  toml::table root = path.empty() ? toml::table{} : parse_file(path);
  Overrides applied;
  for (const std::string& text : overrides) apply_override(root, text, applied);

  const Reader reader(root, path, std::move(applied));
  reader.check_known_keys();
  Config config;
  read_run(reader, config.run);
  read_method(reader, config.method);
  read_lmo(reader, config.lmo);
  read_objective(reader, config.objective);
  read_mlp(reader, config.objective.mlp);
  read_gpt(reader, config.objective.gpt);
  read_heterogeneity(reader, config.heterogeneity);
  read_checkpoint(reader, config.checkpoint);
  read_fault(reader, config.fault);
  read_sim(reader, config.sim);
  read_server(reader, config.server);
  if (engine == ConfigFor::mpi) {
    // Ranks 0 … shards − 1 serve, the rest work (docs/method.md §1, §7 "Sharded server").
    const int shards = config.server.shards;
    if (workers_from_engine < shards + 1)
      reader.fail({"server", "shards"}, std::to_string(shards) + " server shard" + (shards == 1 ? "" : "s") +
                                            " and a worker need at least " + std::to_string(shards + 1) +
                                            " MPI ranks; the job has " + std::to_string(workers_from_engine));
    workers_from_engine -= shards;
  }
  if (workers_from_engine > 0) config.run.workers = workers_from_engine;  // MPI: ranks − shards (docs/method.md §1)
  check_consistency(reader, config, workers_from_engine > 0);
  if (engine != ConfigFor::model) load_trace(reader, config);
  if (engine == ConfigFor::simulator) check_simulator(reader, config);
  return config;
}

std::string to_toml(const Config& c) {
  std::ostringstream out;
  const auto line = [&out](std::string_view key, const std::string& value) { out << key << " = " << value << "\n"; };
  const auto real = [](double x) { return format_double(x); };
  const auto boolean = [](bool b) { return std::string(b ? "true" : "false"); };
  const auto name = [](const auto& choices, auto value) { return toml_string(std::string(choices.name(value))); };

  out << "# Ringmaster configuration, fully resolved (docs/method.md §9; keys in docs/configuration.md).\n";
  out << "\n[run]\n";
  line("method", toml_string(c.run.method));
  line("seed", std::to_string(c.run.seed));
  line("workers", std::to_string(c.run.workers));
  line("time_budget_s", real(c.run.time_budget_s));
  line("max_updates", std::to_string(c.run.max_updates));
  line("target_loss", real(c.run.target_loss));
  line("eval_every_s", real(c.run.eval_every_s));
  line("log_every_s", real(c.run.log_every_s));
  line("log_interrupts", name(kLogInterruptsNames, c.run.log_interrupts));
  line("out", toml_string(c.run.out));

  out << "\n[method]\n";
  line("stepsize", real(c.method.stepsize));
  line("momentum", real(c.method.momentum));
  line("threshold", std::to_string(c.method.threshold));
  line("batch", std::to_string(c.method.batch));
  line("stale", name(kStaleNames, c.method.stale));
  line("nesterov", boolean(c.method.nesterov));

  out << "\n[lmo]\n";
  line("backend", toml_string(to_string(c.lmo.backend)));
  line("ns_steps", std::to_string(c.lmo.ns_steps));
  line("ns_coefficients", toml_string(to_string(c.lmo.ns_coefficients)));
  line("scale", toml_string(to_string(c.lmo.scale)));
  for (Role role : all_roles()) {  // the role table in full (not the shorthands)
    out << "\n[lmo." << to_string(role) << "]\n";
    line("geometry", toml_string(to_string(c.lmo.roles[role].geometry)));
    line("multiplier", real(c.lmo.roles[role].multiplier));
  }

  out << "\n[objective]\n";
  line("kind", toml_string(c.objective.kind));
  line("rows", std::to_string(c.objective.rows));
  line("cols", std::to_string(c.objective.cols));
  // Written only when set: it came after config_hash, and the runs before it keep their hash.
  if (c.objective.blocks != 1) line("blocks", std::to_string(c.objective.blocks));
  line("mu", real(c.objective.mu));
  line("rhs", name(kRhsNames, c.objective.rhs));
  line("rhs_scale", real(c.objective.rhs_scale));
  line("x0", name(kX0Names, c.objective.x0));
  line("x0_scale", c.objective.x0_scale_sqrt_d ? toml_string("sqrt-d") : real(c.objective.x0_scale));
  line("noise", real(c.objective.noise));
  line("noise_kind", name(kGradientNoiseNames, c.objective.noise_kind));

  out << "\n[objective.mlp]\n";
  std::string hidden = "[";
  for (std::size_t i = 0; i < c.objective.mlp.hidden.size(); ++i)
    hidden += (i ? ", " : "") + std::to_string(c.objective.mlp.hidden[i]);
  line("hidden", hidden + "]");
  line("batch", std::to_string(c.objective.mlp.batch));
  line("data_dir", toml_string(c.objective.mlp.data_dir));
  line("standardize", boolean(c.objective.mlp.standardize));
  line("eval_train_examples", std::to_string(c.objective.mlp.eval_train_examples));

  out << "\n[objective.gpt]\n";
  line("layers", std::to_string(c.objective.gpt.layers));
  line("heads", std::to_string(c.objective.gpt.heads));
  line("width", std::to_string(c.objective.gpt.width));
  line("context", std::to_string(c.objective.gpt.context));
  line("batch", std::to_string(c.objective.gpt.batch));
  line("corpus", toml_string(c.objective.gpt.corpus));
  line("validation_fraction", real(c.objective.gpt.validation_fraction));
  line("eval_tokens", std::to_string(c.objective.gpt.eval_tokens));
  line("eval_train_tokens", std::to_string(c.objective.gpt.eval_train_tokens));

  out << "\n[heterogeneity]\n";
  line("profile", name(kProfileNames, c.heterogeneity.profile));
  line("power", real(c.heterogeneity.power));
  line("list", toml_array(c.heterogeneity.list));
  line("profile_origin", std::to_string(c.heterogeneity.profile_origin));
  line("base_s", real(c.heterogeneity.base_s));
  line("offset_s", real(c.heterogeneity.offset_s));
  line("noise", name(kDelayNoiseNames, c.heterogeneity.noise));
  line("noise_scale", real(c.heterogeneity.noise_scale));
  line("noise_growth",
       c.heterogeneity.noise_relative ? toml_string("delay") : real(c.heterogeneity.noise_growth));
  line("mode", name(kDelayModeNames, c.heterogeneity.mode));
  line("outage_rate", real(c.heterogeneity.outage_rate));
  line("outage_s", real(c.heterogeneity.outage_s));
  line("compute_s", c.heterogeneity.measure_compute ? toml_string("measure") : real(c.heterogeneity.compute_s));
  line("server_update_s", c.heterogeneity.measure_server_update ? toml_string("measure")
                                                                : real(c.heterogeneity.server_update_s));
  line("trace", toml_string(c.heterogeneity.trace));

  out << "\n[checkpoint]\n";
  line("every_s", real(c.checkpoint.every_s));

  out << "\n[fault]\n";
  line("max_bad", std::to_string(c.fault.max_bad));
  line("worker_timeout_s", real(c.fault.worker_timeout_s));
  line("inject", name(kFaultNames, c.fault.inject));
  line("inject_workers", toml_array(c.fault.inject_workers));
  line("inject_after", std::to_string(c.fault.inject_after));

  out << "\n[sim]\n";
  line("threads", std::to_string(c.sim.threads));

  out << "\n[server]\n";
  line("threads", std::to_string(c.server.threads));
  line("shards", std::to_string(c.server.shards));
  return out.str();
}

std::uint64_t config_hash(const Config& config) {
  // Where to write, when to stop, how often to log or checkpoint, how many threads: a resumed run may
  // change these, and none changes what is computed. run.log_interrupts stays: it fixes the columns of
  // events.csv, which a resumed run appends to.
  Config experiment = config;
  experiment.run.out.clear();
  experiment.run.time_budget_s = RunConfig{}.time_budget_s;
  experiment.run.max_updates = RunConfig{}.max_updates;
  experiment.run.target_loss = RunConfig{}.target_loss;
  experiment.run.log_every_s = RunConfig{}.log_every_s;
  experiment.checkpoint = CheckpointConfig{};
  experiment.sim = SimConfig{};
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a 64-bit offset basis
  const auto mix = [&hash](std::string_view bytes) {
    for (unsigned char byte : bytes) {
      hash ^= byte;
      hash *= 1099511628211ull;  // FNV prime
    }
  };
  // Without the [server] section (to_toml's last): it came later than this hash, and checkpoints written
  // before it keep their hash.
  std::string toml = to_toml(experiment);
  toml.erase(toml.rfind("\n[server]\n"));
  // Likewise heterogeneity.server_update_s while it is unset (no charge: the runs it came after).
  if (!config.heterogeneity.measure_server_update && config.heterogeneity.server_update_s == 0.0) {
    const std::size_t line = toml.find("\nserver_update_s = ");
    toml.erase(line, toml.find('\n', line + 1) - line);
  }
  mix(toml);
  // A trace is part of the experiment by its content, not only its path (a file rewritten between a
  // checkpoint and its resume is another experiment).
  if (const auto& trace = config.heterogeneity.trace_times.trace)
    for (int w = 1; w <= trace->workers(); ++w)
      for (double t : trace->times(w)) mix(std::string_view(reinterpret_cast<const char*>(&t), sizeof t));
  return hash;
}

}  // namespace ringmaster
