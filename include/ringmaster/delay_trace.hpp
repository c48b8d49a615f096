// A trace of per-worker compute times (docs/method.md §5 "Trace replay"): heterogeneity.profile = "trace"
// replays, for each worker, the seconds per gradient a CSV file lists for it, in file order, cycling
// when it runs out. The `delays.csv` of every run (docs/method.md §8: worker,version,compute_s,injected_s)
// is such a file, so a cluster's measured behaviour replays in the simulator.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace ringmaster {

class DelayTrace {
 public:
  // Reads `path`: a CSV header naming a `worker` column (1-based indices) and either a `seconds` column
  // or both `compute_s` and `injected_s` (a gradient then takes their sum); other columns are ignored.
  // Every row must have the header's number of fields; worker an integer ≥ 1; the seconds finite, ≥ 0
  // and at most kMaxSeconds. Workers 1..`workers` must each have at least one row (rows of higher
  // workers are kept and unused). Throws Error "FILE:LINE: what is wrong" (FILE alone for a missing
  // worker or an unreadable file).
  static std::shared_ptr<const DelayTrace> load(const std::string& path, int workers);

  // Worker `worker`'s (1-based) seconds per gradient, in file order.
  const std::vector<double>& times(int worker) const { return times_.at(static_cast<std::size_t>(worker - 1)); }
  int workers() const { return static_cast<int>(times_.size()); }

  bool operator==(const DelayTrace&) const = default;

 private:
  std::vector<std::vector<double>> times_;  // [worker − 1][gradient]
};

// The loaded trace of a configuration: compared by content, so a configuration read back from its
// config.toml equals the one written (both load the same file).
struct TraceTimes {
  std::shared_ptr<const DelayTrace> trace;  // null unless heterogeneity.profile = "trace"

  bool operator==(const TraceTimes& o) const {
    return trace == o.trace || (trace != nullptr && o.trace != nullptr && *trace == *o.trace);
  }
};

}  // namespace ringmaster
