// Helpers for the tests that run the real `ringmaster` binary (under mpirun or alone) and read the
// run directory it writes.
#pragma once

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace ringmaster::testing {

namespace fs = std::filesystem;

struct Command {
  int exit_code = -1;
  std::string output;  // stdout and stderr
  double seconds = 0.0;
};

// Runs `command` through the shell, capturing stdout+stderr.
inline Command run(const std::string& command) {
  Command result;
  const auto begin = std::chrono::steady_clock::now();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe)) result.output += buffer.data();
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return result;
}

inline std::string binary() { return RINGMASTER_BINARY; }
inline std::string source_dir() { return RINGMASTER_SOURCE_DIR; }

// `mpirun -np ranks ringmaster train ...` as root, oversubscribed, as the tests need on a 2-core box.
inline std::string mpirun(int ranks, const std::string& args) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
         "ASAN_OPTIONS=detect_leaks=0 timeout 300 mpirun --oversubscribe -np " +
         std::to_string(ranks) + " " + binary() + " train " + args;
}

// A fresh empty directory under the system temp dir, removed at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    path_ = fs::temp_directory_path() / ("ringmaster-test-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  std::string operator/(const std::string& child) const { return (path_ / child).string(); }

 private:
  fs::path path_;
};

inline nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// A CSV file as rows of column name → text.
inline std::vector<std::map<std::string, std::string>> read_csv(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  auto split = [](const std::string& s) {
    std::vector<std::string> cells;
    std::stringstream ss(s);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (!s.empty() && s.back() == ',') cells.emplace_back();
    return cells;
  };
  if (std::getline(in, line)) header = split(line);
  while (std::getline(in, line)) {
    const auto cells = split(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

inline void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// The engine tests' quadratic: small and well conditioned (24×24, μ = 0.1: cond(A) ≤ 11), so spectral
// steps with γ = 0.02 converge within seconds, under sqrt heterogeneity with a 5 ms base delay.
// `overrides` ("section.key" → TOML value) replace or add keys. Writes the file, returns its path.
inline std::string write_test_quadratic(const fs::path& path, const std::map<std::string, std::string>& overrides) {
  std::map<std::string, std::map<std::string, std::string>> sections = {
      {"run", {{"method", "\"ringmaster\""}}},
      {"method", {{"stepsize", "0.02"}, {"momentum", "0.9"}, {"threshold", "4"}}},
      {"objective", {{"kind", "\"quadratic\""}, {"rows", "24"}, {"cols", "24"}, {"mu", "0.1"}, {"noise", "0.01"}}},
      {"heterogeneity", {{"profile", "\"sqrt\""}, {"base_s", "0.005"}}},
  };
  for (const auto& [key, value] : overrides) {
    const std::size_t dot = key.find('.');
    sections[key.substr(0, dot)][key.substr(dot + 1)] = value;
  }
  std::string text;
  for (const auto& [section, keys] : sections) {
    text += "[" + section + "]\n";
    for (const auto& [key, value] : keys) text += key + " = " + value + "\n";
  }
  write_file(path, text);
  return path.string();
}

}  // namespace ringmaster::testing
