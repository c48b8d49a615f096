// The reader's helpers (reader.hpp): the schema from the key table, and the words of its messages.
#include "config/reader.hpp"

namespace ringmaster::config_reading {

// ---------------------------------------------------------------------------------------------------
// The sections and their keys, in the order of the key table (config/keys.cpp).

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

namespace {

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

}  // namespace

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

}  // namespace ringmaster::config_reading
