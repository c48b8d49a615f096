// ringmaster-keys: the key tables of docs/configuration.md, generated from the key table (keys.hpp).
// Each table follows a marker line `<!-- keys: SECTION... -->` and runs to the first line that does not
// start with '|'. `--check FILE` exits 1 naming the first table that differs from the binary's (ctest
// config_keys_doc runs it); `--write FILE` rewrites FILE with every table as generated.
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "config/keys.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/file_writer.hpp"
#include "ringmaster/input_file.hpp"
#include "ringmaster/text.hpp"

namespace {

constexpr std::size_t kMaxDocBytes = std::size_t{1} << 20;
constexpr std::string_view kMarker = "<!-- keys:";

// FILE with its tables generated; `first_difference` gets the marker of the first table that changed.
std::string generate(const std::string& text, std::string& first_difference) {
  std::istringstream in(text);
  std::string out, line;
  bool in_table = false;
  std::string old_table, marker;
  const auto flush = [&](const std::string& table) {
    if (table != old_table && first_difference.empty()) first_difference = marker;
    out += table;
  };
  std::string table;
  while (std::getline(in, line)) {
    if (in_table && line.starts_with("|")) {
      (old_table += line) += '\n';
      continue;
    }
    if (in_table) flush(table), in_table = false;
    (out += line) += '\n';
    if (!line.starts_with(kMarker)) continue;
    const std::size_t end = line.find("-->");
    if (end == std::string::npos) throw ringmaster::Error(ringmaster::shown(line) + ": a marker ends with -->");
    std::istringstream names(line.substr(kMarker.size(), end - kMarker.size()));
    std::vector<std::string> sections;
    for (std::string s; names >> s;) sections.push_back(s);
    const std::vector<std::string_view> views(sections.begin(), sections.end());
    table = ringmaster::markdown_table(views);
    if (table.find('`') == std::string::npos)
      throw ringmaster::Error(ringmaster::shown(line) + ": names no section of the key table");
    marker = line;
    old_table.clear();
    in_table = true;
  }
  if (in_table) flush(table);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "--check" && mode != "--write") {
    std::fprintf(stderr, "usage: ringmaster-keys --check|--write docs/configuration.md\n");
    return ringmaster::kExitBadInput;
  }
  try {
    ringmaster::BoundedRead file = ringmaster::read_bounded(argv[2], kMaxDocBytes);
    if (file.status != ringmaster::BoundedRead::Status::ok)
      throw ringmaster::Error(ringmaster::shown(argv[2]) + ": cannot read it as a regular file of at most 1 MiB");
    std::string differs;
    const std::string generated = generate(file.text, differs);
    if (mode == "--write") {
      ringmaster::write_file_atomically(argv[2], generated);
      return ringmaster::kExitOk;
    }
    if (differs.empty() && generated == file.text) return ringmaster::kExitOk;
    std::fprintf(stderr, "%s: the table after %s is not the binary's key table; run ringmaster-keys --write %s\n",
                 argv[2], differs.c_str(), argv[2]);
    return 1;
  } catch (const ringmaster::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return ringmaster::kExitBadInput;
  }
}
