// The key table (docs/configuration.md "Keys"): every configuration key is one row — its section and
// name, how it is read (type, bounds or choices), how to reach its field of Config, a one-line doc, and
// whether it changes what a run computes. load_config's reader, to_toml, config_hash and the key tables
// of docs/configuration.md (ringmaster-keys, checked by ctest config_keys_doc) all walk these rows.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringmaster/config.hpp"

namespace ringmaster {

inline constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
inline constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// Shortest text that reads back as the same double (what to_toml writes): "60" becomes "60.0".
std::string format_double(double x);

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

enum class KeyType {
  integer,   // an integer in [lo, hi] (an integral float is accepted: 1e6)
  number,    // a finite number within `bounds`; with a `word`, also that one string (compute_s = "measure")
  boolean,
  text,      // a string; `nonempty` refuses ""
  choice,    // one of `choices` (an enum's names, or a registry's)
  numbers,   // an array of numbers within `bounds`; `integral` ones, at most `max_entries` (0: any number)
  alias,     // another spelling of the key `alias_of` (lmo.geometry): read into its field, never written
};

// How a key is read and where its value goes.
struct KeySpec {
  KeyType type = KeyType::integer;
  std::int64_t lo = 0, hi = 0;
  Bounds bounds;
  std::string_view word;
  std::vector<std::string_view> choices;
  bool nonempty = false;
  bool integral = false;
  std::size_t max_entries = 0;
  std::string_view alias_of;
  std::string_view registry;  // choice: the file of the registry the names come from (run.method, objective.kind)
  // Access to the field (the members for the type are set, the others null): its value as to_toml writes
  // it, and setters for a value the reader has checked.
  std::string (*write)(const Config&) = nullptr;
  void (*set_integer)(Config&, std::int64_t) = nullptr;
  void (*set_number)(Config&, double) = nullptr;
  void (*set_word)(Config&, bool) = nullptr;  // number rows with a word: true when the word was given
  void (*set_boolean)(Config&, bool) = nullptr;
  void (*set_text)(Config&, const std::string&) = nullptr;  // text and choice (may throw Error: a bad name)
  void (*set_numbers)(Config&, const std::vector<double>&) = nullptr;
};

struct KeyRow {
  std::string_view section;  // "run", "objective.gpt", "lmo.matrix"
  std::string_view name;
  KeySpec spec;
  // Whether the value changes what a run computes (its files but for timing columns): such keys at a
  // non-default value make config_hash (docs/method.md §8).
  bool results = true;
  std::string_view doc;   // the docs table's "meaning", one line
  std::string_view note;  // what the docs' "allowed" says beyond the bounds (a cross-check), may be empty

  std::string full() const { return std::string(section) + "." + std::string(name); }
};

// Every key, in the order of to_toml and of docs/configuration.md.
std::span<const KeyRow> key_table();

// The TOML text of a string (toml++'s escaping; non-ASCII text kept as it is).
std::string toml_string(const std::string& s);

// The rows of `sections` as a Markdown table (docs/configuration.md): key, type, default, allowed, whether it
// changes results, meaning. With one section the key column gives the bare name, else section.name.
std::string markdown_table(const std::vector<std::string_view>& sections);

}  // namespace ringmaster
