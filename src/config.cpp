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
#include "config/keys.hpp"

namespace ringmaster {
namespace {

// ---------------------------------------------------------------------------------------------------
// The sections and their keys, in the order of the key table (config/keys.cpp).

struct Section {
  std::string_view name;
  std::vector<std::string_view> keys;
};

const std::vector<Section>& schema() {
  static const std::vector<Section> sections = [] {
    std::vector<Section> out;
    for (const KeyRow& row : key_table()) {
      if (out.empty() || out.back().name != row.section) out.push_back({row.section, {}});
      out.back().keys.push_back(row.name);
    }
    return out;
  }();
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

  // --- a row of the key table, read, checked and set (an absent key keeps its default, which is valid) ---

  void read(const KeyRow& row, Config& c) const {
    const Key key{row.section, row.name};
    const KeySpec& spec = row.spec;
    switch (spec.type) {
      case KeyType::integer:
        if (auto x = integer(key)) {
          // "must be >= 1" when only the lower bound matters; the full range when there is a real upper
          // one or the value is above the representable maximum.
          const bool open_above = spec.hi >= std::numeric_limits<int>::max() && *x < spec.lo;
          if (*x < spec.lo || *x > spec.hi)
            fail(key, "must be " +
                          (open_above ? ">= " + std::to_string(spec.lo)
                                      : "in [" + std::to_string(spec.lo) + ", " + std::to_string(spec.hi) + "]") +
                          ", got " + std::to_string(*x));
          spec.set_integer(c, *x);
        }
        return;
      case KeyType::number: {
        const toml::node* node = known(key);
        if (node == nullptr) return;
        if (!spec.word.empty() && !node->is_number()) {  // the one word it also takes ("measure")
          const std::optional<std::string> s = node->is_string() ? text(key) : std::nullopt;
          if (s != spec.word)
            fail(key, "expected a number " + spec.bounds.describe() + " or the string " + quote(spec.word) +
                          ", got " + (s ? quote(*s) : describe(*node)));
          spec.set_word(c, true);
          return;
        }
        const double x = number_of(key, *node);
        if (!spec.bounds.contains(x)) fail(key, "must be " + spec.bounds.describe() + ", got " + format_double(x));
        spec.set_number(c, x);
        if (spec.set_word != nullptr) spec.set_word(c, false);
        return;
      }
      case KeyType::boolean:
        if (auto b = boolean(key)) spec.set_boolean(c, *b);
        return;
      case KeyType::text:
        if (auto s = text(key)) {
          if (spec.nonempty && s->empty()) fail(key, "must not be empty");
          spec.set_text(c, *s);
        }
        return;
      case KeyType::alias:  // the shorthand and its full spelling are one field: setting both is refused
        if (const Key full = key_of(spec.alias_of); present(key) && present(full))
          fail(culprit({key, full}), "set twice: " + key.full() + " is the shorthand of " + full.full() +
                                         "; set one of them");
        [[fallthrough]];
      case KeyType::choice:
        if (auto s = text(key)) {
          if (std::find(spec.choices.begin(), spec.choices.end(), *s) == spec.choices.end())
            fail(key, unknown_value(*s, spec.choices));
          spec.set_text(c, *s);
        }
        return;
      case KeyType::numbers:
        if (auto values = numbers(key, spec.bounds)) {
          if (spec.max_entries > 0 && values->size() > spec.max_entries)
            fail(key, "at most " + std::to_string(spec.max_entries) + " entries, got " + std::to_string(values->size()));
          for (std::size_t i = 0; spec.integral && i < values->size(); ++i)
            if ((*values)[i] != std::floor((*values)[i]))
              fail(key, "entry " + std::to_string(i) + " must be an integer, got " + format_double((*values)[i]));
          spec.set_numbers(c, *values);
        }
        return;
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

// The gpt's heads divide its width into an even head dimension: each head takes width / heads
// coordinates, and rotary positions turn them in pairs.
void check_heads(const Reader& r, const GptConfig& gpt) {
  const Key heads{"objective.gpt", "heads"}, width{"objective.gpt", "width"};
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
  // Likewise objective.blocks at 1 and heterogeneity.server_update_s while it is unset (the runs they came
  // after).
  if (config.objective.blocks == 1) {
    const std::size_t line = toml.find("\nblocks = 1\n");
    toml.erase(line, toml.find('\n', line + 1) - line);
  }
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
