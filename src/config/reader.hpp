// The reader of load_config (config.cpp): typed, located access to the merged TOML table, each value read
// against its row of the key table (keys.hpp) and every error naming the key and where its value came from.
// Shared by config.cpp (the keys) and checks.cpp (the cross-checks).
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/keys.hpp"
#include "ringmaster/choices.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster::config_reading {

// The sections and their keys, in the order of the key table (config/keys.cpp).
struct Section {
  std::string_view name;
  std::vector<std::string_view> keys;
};
const std::vector<Section>& schema();
const Section* find_section(std::string_view name);
bool has_key(const Section& section, std::string_view key);
// A section's table in the tree: "objective.mlp" is the table `mlp` inside `objective`.
const toml::table* section_table(const toml::table& root, std::string_view section);

std::string join(const std::vector<std::string_view>& words);
std::string trim(std::string_view s);
std::string quote(std::string_view s);
// The candidate closest to `word`, if it is close enough to be a plausible typo.
std::optional<std::string_view> closest(std::string_view word, const std::vector<std::string_view>& candidates);
// "integer 5", "string \"abc\"", "float 0.5", "array", ... for "expected X, got Y" messages.
std::string describe(const toml::node& node);
// "unknown subsection [lmo.hiden] (block roles: ...)": a table no schema section names.
std::string unknown_subsection(const std::string& sub);

struct Override {
  std::string origin;  // "--set section.key=value" (shortened), the prefix of its error messages
  std::string raw;     // the value text as typed (used as-is for string keys)
  std::size_t order = 0;  // position on the command line
};
using Overrides = std::map<std::string, Override, std::less<>>;  // by "section.key"; the last one wins

struct Key {
  std::string_view section;
  std::string_view name;
  std::string full() const { return std::string(section) + "." + std::string(name); }
};

// "objective.gpt.width" as its section and name (views of `full`).
inline Key key_of(std::string_view full) {
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

}  // namespace ringmaster::config_reading
