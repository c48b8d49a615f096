#include "ringmaster/provenance.hpp"

#include <cblas.h>
#include <fmt/format.h>
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "ringmaster/error.hpp"
#include "ringmaster/file_writer.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace fs = std::filesystem;

namespace {

// A run's provenance.json grows by one invocation a resume (a few KiB, ~20 bytes a rank): 16 MiB is
// hundreds of resumes of a thousand-rank job, and bounds what a resume reads.
constexpr std::size_t kProvenanceLimit = std::size_t{16} << 20;
// summary.json is a few KiB (its memory section ~20 bytes a worker).
constexpr std::size_t kSummaryLimit = std::size_t{16} << 20;

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// The Open MPI the binary runs with (MPI_Get_library_version may be called before MPI_Init): its first line.
std::string mpi_library() {
  char version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(version, &length);
  std::string text(version, static_cast<std::size_t>(std::max(length, 0)));
  if (const auto end = text.find_first_of("\r\n"); end != std::string::npos) text.resize(end);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\0')) text.pop_back();
  return text;
}

std::string or_empty(const char* text) { return text ? text : ""; }

nlohmann::ordered_json nullable(const std::string& text) { return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text); }

// hosts[r] → [{"host": name, "ranks": [r, ...]}, ...] in order of their first rank.
nlohmann::ordered_json hosts_json(const std::vector<std::string>& hosts, bool ranks) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  std::map<std::string, std::size_t> at;
  for (std::size_t r = 0; r < hosts.size(); ++r) {
    auto [it, fresh] = at.emplace(hosts[r], list.size());
    if (fresh) list.push_back({{"host", hosts[r]}, {"ranks", ranks ? nlohmann::ordered_json::array() : nlohmann::ordered_json(nullptr)}});
    if (ranks) list[it->second]["ranks"].push_back(r);
  }
  return list;
}

nlohmann::ordered_json invocation_json(const Invocation& i) {
  const bool mpi = i.engine == "mpi";
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  const fs::path binary = fs::read_symlink("/proc/self/exe", ec);
  return {
      {"time", utc_now()},
      {"argv", i.argv},
      {"cwd", cwd.string()},
      {"config", {{"given", i.config_path}, {"absolute", fs::absolute(i.config_path, ec).lexically_normal().string()}}},
      {"overrides", i.overrides},
      {"name", nullable(i.name)},
      {"binary",
       {{"path", binary.string()},
        {"version", RINGMASTER_VERSION},
        {"commit", RINGMASTER_GIT_COMMIT},
        {"build_type", RINGMASTER_BUILD_TYPE}}},
      {"engine", i.engine},
      {"ranks", mpi ? nlohmann::ordered_json(i.hosts.size()) : nlohmann::ordered_json(nullptr)},
      {"workers", i.workers},
      {"server_shards", i.shards},
      {"hosts", hosts_json(i.hosts, mpi)},
      {"mpi_library", mpi_library()},
      // Rank 0's: every rank loads the same library, but picks its kernels on its own CPU (src/main.cpp).
      {"openblas",
       {{"config", or_empty(openblas_get_config())},
        {"core", or_empty(openblas_get_corename())},
        {"threads", openblas_get_num_threads()},
        {"OPENBLAS_CORETYPE", nullable(or_empty(std::getenv("OPENBLAS_CORETYPE")))}}},
  };
}

// The JSON object in `path`, or nullopt when there is no such file; Error naming it when it cannot be
// read or is not a JSON object.
std::optional<nlohmann::ordered_json> read_json_object(const fs::path& path, std::size_t limit, const std::string& label) {
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(path, ec))) return std::nullopt;
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(read_run_file(path, limit, label), nullptr, false);
  if (!json.is_object()) throw Error(label + ": " + shown_path(path) + " is not a JSON object");
  return json;
}

}  // namespace

Invocation invocation(const RunRequest& request, std::string engine, int workers, int shards,
                      std::vector<std::string> hosts) {
  return {request.argv, request.config_path, request.overrides, request.name, std::move(engine), workers, shards,
          std::move(hosts)};
}

std::string this_host() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

void record_provenance(const fs::path& dir, const Invocation& invocation, const Config& config, bool resume) {
  const fs::path path = dir / kProvenanceFile;
  const std::string hash = fmt::format("{:016x}", config_hash(config));
  nlohmann::ordered_json file;
  if (resume) {
    std::optional<nlohmann::ordered_json> earlier = read_json_object(path, kProvenanceLimit, "--resume " + shown_path(dir));
    if (earlier && !(*earlier)["resumes"].is_array())
      throw Error("--resume " + shown_path(dir) + ": " + shown_path(path) + " has no \"resumes\" list");
    file = earlier ? std::move(*earlier) : nlohmann::ordered_json{{"engine", invocation.engine}, {"start", nullptr},
                                                           {"resumes", nlohmann::ordered_json::array()}};
    file["resumes"].push_back(invocation_json(invocation));
    if (!file.contains("config_hash")) file["config_hash"] = hash;  // a run from before provenance.json
  } else {
    file = {{"engine", invocation.engine},
            {"name", nullable(invocation.name)},
            {"config_hash", hash},
            {"start", invocation_json(invocation)},
            {"resumes", nlohmann::ordered_json::array()}};
  }
  // Arguments are bytes: invalid UTF-8 is written as U+FFFD rather than refused.
  write_file_atomically(path, file.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

std::optional<std::string> recorded_engine(const fs::path& dir) {
  const std::string label = "--resume " + shown_path(dir);
  if (const std::optional<nlohmann::ordered_json> p = read_json_object(dir / kProvenanceFile, kProvenanceLimit, label)) {
    if (const auto it = p->find("engine"); it != p->end() && it->is_string()) return it->get<std::string>();
    throw Error(label + ": " + shown_path(dir / kProvenanceFile) + " names no engine");
  }
  // A run from before provenance.json: its summary, when an epoch of it finished. A summary that cannot
  // be read says nothing (the checkpoint alone decides then).
  try {
    if (const std::optional<nlohmann::ordered_json> s = read_json_object(dir / "summary.json", kSummaryLimit, label))
      if (const auto it = s->find("engine"); it != s->end() && it->is_string()) return it->get<std::string>();
  } catch (const Error&) {
  }
  return std::nullopt;
}

}  // namespace ringmaster
