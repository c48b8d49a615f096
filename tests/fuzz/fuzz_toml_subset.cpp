// libFuzzer target for the recognizer of the TOML a config may use (src/config/toml_subset.hpp), with
// toml++ compiled in and instrumented (CMakeLists.txt here). The input is a config's text, checked as
// follows (a failure aborts):
//   - refused: at a line the input has, with the subset named;
//   - accepted: toml++ parses it without a crash or sanitizer report (a syntax error is fine: escapes and
//     integer ranges are toml++'s to check), into the subset's shape: tables no deeper than
//     [section.subsection], every other value a string, number or boolean, or an array of those.
// An input whose first byte is 0x01 is instead the payload of the to_toml check: a Config holding the
// rest as two of its strings (its first KiB, when that is UTF-8) and its bytes as doubles is written
// into the subset, and toml++ reads them back bit for bit. (Writing and parsing a whole config.toml
// costs five times the rest; on every input it would leave the recognizer a fifth of the runs.)
// Seeds: corpus/toml_subset/, and the config target's (scripts/fuzz.sh).
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "config/toml_subset.hpp"
#include "ringmaster/text.hpp"
#include "ringmaster/config.hpp"

namespace {

[[noreturn]] void bug(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_toml_subset: BUG: %s: %s\n", what, detail.c_str());
  std::abort();
}

bool is_scalar(const toml::node& node) {
  return node.is_string() || node.is_integer() || node.is_floating_point() || node.is_boolean();
}

// Tables at `depth` (the root is 0) and below: [section] is 1, [section.subsection] 2, and holds no table.
void check_shape(const toml::table& table, int depth) {
  for (auto&& [key, node] : table) {
    if (const toml::table* sub = node.as_table()) {
      if (depth == 2) bug("a table deeper than [section.subsection]", std::string(key.str()));
      check_shape(*sub, depth + 1);
    } else if (const toml::array* array = node.as_array()) {
      for (const toml::node& element : *array)
        if (!is_scalar(element)) bug("an array element that is not a scalar", std::string(key.str()));
    } else if (!is_scalar(node)) {
      bug("a value that is not a scalar", std::string(key.str()));
    }
  }
}

void check_text(std::string_view text) {
  if (const auto refused = ringmaster::check_toml_subset(text)) {
    const auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
    if (refused->line < 1 || refused->line > lines)
      bug("a refusal at a line the text does not have", std::to_string(refused->line));
    if (refused->what.find(" (a Ringmaster config uses only ") == std::string::npos)
      bug("a refusal that does not name the subset", refused->what);
    return;
  }
  try {
    check_shape(toml::parse(text), 0);
  } catch (const toml::parse_error&) {
    // accepted by the recognizer, refused by toml++: an escape or an integer range
  }
}

bool same(double a, double b) { return std::isnan(a) ? std::isnan(b) : std::memcmp(&a, &b, sizeof a) == 0; }

void check_to_toml(std::string_view input) {
  ringmaster::Config config;
  // Its first KiB: the seeds include 100 KB files, and the escaping of a string is in its characters.
  if (const std::string_view text = input.substr(0, 1024); ringmaster::is_utf8(text)) {
    config.run.out = text;
    config.objective.gpt.corpus = text;
  }
  for (std::size_t at = 0; at + sizeof(double) <= input.size() && config.heterogeneity.list.size() < 64; at += sizeof(double)) {
    double x;
    std::memcpy(&x, input.data() + at, sizeof x);
    config.heterogeneity.list.push_back(x);
  }
  const std::string text = ringmaster::to_toml(config);
  if (const auto refused = ringmaster::check_toml_subset(text))
    bug("to_toml wrote text outside the subset", std::to_string(refused->line) + ": " + refused->what + "\n" + text);
  toml::table back;
  try {
    back = toml::parse(text);
  } catch (const toml::parse_error& e) {
    bug("toml++ cannot read what to_toml wrote", std::string(e.description()) + "\n" + text);
  }
  if (back["run"]["out"].value<std::string>() != config.run.out ||
      back["objective"]["gpt"]["corpus"].value<std::string>() != config.objective.gpt.corpus)
    bug("a string did not read back", text);
  const toml::array* list = back["heterogeneity"]["list"].as_array();
  if (list == nullptr || list->size() != config.heterogeneity.list.size()) bug("the list did not read back", text);
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto x = list->get(i)->value<double>();
    if (!x || !same(*x, config.heterogeneity.list[i])) bug("a double did not read back", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    if (!input.empty() && input[0] == '\x01')
      check_to_toml(input.substr(1));
    else
      check_text(input);
  } catch (const std::exception& e) {
    bug(typeid(e).name(), e.what());
  }
  return 0;
}
