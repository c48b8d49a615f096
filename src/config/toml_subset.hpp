// The TOML a Ringmaster config may use, recognized before toml++ parses it (docs/configuration.md "What
// is read"). A whitelist: blank lines and comments; [section] and [section.subsection] headers; key = value
// with a bare (possibly dotted) key; values that are single-line basic or literal strings, integers and
// floats in TOML's forms (inf and nan included, so the reader can say "must be finite"), booleans, and
// arrays of those (one level, over several lines if need be, a trailing comma allowed). Anything else is
// refused with its line before toml++ sees the text; toml++ then builds the table (and checks string
// escapes and integer ranges).
//
// Why a whitelist: toml++ 3.3 recurses once per level of the tree it builds (a 60 KB file of
// [a.a.a....] overflowed the stack) and has bugs reached only by text TOML forbids (a non-ASCII character
// where it tests for whitespace reaches __builtin_unreachable, marzer/tomlplusplus#295; `[[=` breaks a
// precondition, #301). The subset has no nesting beyond an array of scalars, so the tree toml++ builds
// from accepted text is at most three tables deep, and the text it sees is the text it is tested on.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ringmaster {

// The first line of a text outside the subset, and why.
struct TomlRefusal {
  std::size_t line = 0;  // 1-based
  std::string what;      // what is not allowed, then the subset in parentheses; no text of the input is echoed
  // A structure deeper than the subset's: an inline table, an array inside an array, an array of
  // tables, a header or dotted key deeper than [section.subsection] key. A `--set` value refused for
  // anything else is taken as a bare string; one refused for this is an error (config.cpp).
  bool nesting = false;
};

// nullopt: `text` is in the subset.
std::optional<TomlRefusal> check_toml_subset(std::string_view text);


}  // namespace ringmaster
