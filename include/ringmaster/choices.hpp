// A closed set of names a configuration key takes (docs/configuration.md): each enum value beside its
// name, once. Parsing, to_toml, the generated key table of docs/configuration.md and every "unknown
// value" message read the same rows, so a name cannot be listed in one place and missing in another.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ringmaster/error.hpp"

namespace ringmaster {

// "unknown value \"text\" (accepted: a, b, c)": the one form of the message, for enums and registries.
std::string unknown_value(std::string_view text, const std::vector<std::string_view>& accepted);

template <class Enum, std::size_t N>
struct Choices {
  std::array<std::pair<Enum, std::string_view>, N> rows;

  std::vector<std::string_view> names() const {
    std::vector<std::string_view> out;
    for (const auto& row : rows) out.push_back(row.second);
    return out;
  }
  std::string_view name(Enum value) const {
    for (const auto& [v, text] : rows)
      if (v == value) return text;
    return "?";
  }
  Enum parse(std::string_view text) const {
    for (const auto& [v, name] : rows)
      if (name == text) return v;
    throw Error(unknown_value(text, names()));
  }
};

template <class Enum, std::size_t N>
Choices(std::array<std::pair<Enum, std::string_view>, N>) -> Choices<Enum, N>;

}  // namespace ringmaster
