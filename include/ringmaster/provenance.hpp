// How a run came to be (docs/formats.md "provenance.json"): the command line, the config file and the
// --set overrides as given, the binary (version, commit, build type), the hosts and ranks, and the Open MPI
// and OpenBLAS in use. Written into the run directory at its start, before any training, atomically
// through the file writer; a resume adds its own invocation to the file and keeps the first.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/engine.hpp"

namespace ringmaster {

inline constexpr const char* kProvenanceFile = "provenance.json";

// One start or resume of a run, as the engine saw it.
struct Invocation {
  std::vector<std::string> argv;       // the command line as given (argv[0] included)
  std::string config_path;             // -c FILE as given (a resume without -c: DIR/config.toml)
  std::vector<std::string> overrides;  // --set section.key=value, in order, as given
  std::string name;                    // --name, empty without one
  std::string engine;                  // "mpi" or "sim" (summary.json's engine)
  int workers = 0;
  int shards = 1;                      // server.shards (MPI)
  std::vector<std::string> hosts;      // hosts[r]: the host of MPI rank r (the simulator: its one host)
};

// The invocation `request` makes under `engine` ("mpi" or "sim").
Invocation invocation(const RunRequest& request, std::string engine, int workers, int shards,
                      std::vector<std::string> hosts);

// The host this process runs on (gethostname).
std::string this_host();

// Writes `dir`/provenance.json for a fresh run, or adds `invocation` to the "resumes" of the existing one
// (`resume`; a run directory from before the file existed gets one with "start": null). Throws Error naming
// the file when an existing one cannot be read or is not provenance JSON (nothing is rewritten then), and
// RuntimeFailure when writing fails.
void record_provenance(const std::filesystem::path& dir, const Invocation& invocation, const Config& config,
                       bool resume);

// The engine that ran the run in `dir` ("mpi" or "sim") as its provenance.json says, or else its summary.json,
// or nullopt when neither says (a run that never finished an epoch before provenance.json existed).
std::optional<std::string> recorded_engine(const std::filesystem::path& dir);

}  // namespace ringmaster
