// A trace of per-worker compute times (docs/method.md §5 "Trace replay"): heterogeneity.profile = "trace"
// replays, for each worker, the seconds per gradient a CSV file lists for it, in file order, cycling
// when it runs out. The `delays.csv` of every run (docs/method.md §8: worker,version,compute_s,injected_s)
// is such a file, so a cluster's measured behaviour replays in the simulator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ringmaster {

// The largest worker index a trace may name (as its seconds are at most kMaxSeconds).
inline constexpr double kMaxTraceWorker = 1e9;

class DelayTrace {
 public:
  // Reads `path`: a CSV header naming a `worker` column (1-based indices) and either a `seconds` column
  // or both `compute_s` and `injected_s` (a gradient then takes their sum); other columns are ignored, and
  // a column it reads may be named once only. Every row must have the header's number of fields; worker
  // an integer in [1, kMaxTraceWorker]; the seconds finite, ≥ 0 and at most kMaxSeconds. Workers
  // 1..`workers` must each have at least one row; rows of higher workers are counted, not kept (memory
  // follows the run), and unreplayed() says so. Throws Error "FILE:LINE: what is wrong" (FILE alone for a
  // missing worker or an unreadable file).
  static std::shared_ptr<const DelayTrace> load(const std::string& path, int workers);

  // Worker `worker`'s (1-based) seconds per gradient, in file order.
  const std::vector<double>& times(int worker) const { return times_.at(static_cast<std::size_t>(worker - 1)); }
  int workers() const { return static_cast<int>(times_.size()); }
  // The rows of workers the run does not have, in words naming the file (for one warning when the run
  // starts), or nullopt when every row is replayed.
  std::optional<std::string> unreplayed() const;

  // Compared by what is replayed (the file's name and its unreplayed rows aside).
  bool operator==(const DelayTrace& o) const { return times_ == o.times_; }

 private:
  std::vector<std::vector<double>> times_;  // [worker − 1][gradient], for the run's workers
  std::string path_;                        // for messages
  std::int64_t unreplayed_rows_ = 0;        // rows of workers above the run's
  std::int64_t unreplayed_first_ = std::numeric_limits<std::int64_t>::max(), unreplayed_last_ = 0;
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
