// The two engines that feed arrivals to the Server (docs/method.md §7, §10):
//   mpi — rank 0 serves, ranks 1..n compute gradients, wall-clock time;
//   sim — one process, virtual time from the heterogeneity model, an event queue.
#pragma once

#include <string>
#include <vector>

namespace ringmaster {

struct RunRequest {
  std::string config_path;
  std::vector<std::string> overrides;  // "section.key=value"
  std::string out;                     // --out (overrides run.out)
  bool force = false;                  // allow a non-empty existing --out
  std::string resume;                  // --resume DIR: continue the run in DIR from its checkpoint
  std::string name;                    // --name NAME: runs/<stamp>-NAME (check_run_name)
  std::vector<std::string> argv;       // the whole command line, for provenance.json and resume hints
};

// Both return a process exit code (docs/method.md §10); bad input is reported and gives 2.
int run_mpi(const RunRequest& request, int argc, char** argv);
int run_sim(const RunRequest& request);

}  // namespace ringmaster
