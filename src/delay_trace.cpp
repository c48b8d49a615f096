#include "ringmaster/delay_trace.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string_view>
#include <system_error>

#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/input_file.hpp"

namespace ringmaster {
namespace {

// A trace is a run's delays.csv at most: 256 MiB is ~7 million gradients, more than any run writes in
// a sweep's horizon, and it is held in memory once per process.
constexpr std::size_t kMaxTraceBytes = std::size_t{256} << 20;

// The fields of one line. The files are plain numeric CSV as the Recorder writes them (no quoting, no
// embedded commas), so a split on ',' is the whole grammar; the numbers go through std::from_chars.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  for (std::size_t begin = 0;;) {
    const std::size_t comma = line.find(',', begin);
    out.push_back(line.substr(begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin));
    if (comma == std::string_view::npos) return out;
    begin = comma + 1;
  }
}

std::optional<double> number(std::string_view text) {
  double x = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return x;
}

std::string cut(std::string_view s) { return s.size() <= 40 ? std::string(s) : std::string(s.substr(0, 40)) + "…"; }

}  // namespace

std::shared_ptr<const DelayTrace> DelayTrace::load(const std::string& path, int workers) {
  const std::string shown = path.size() <= 512 ? path : path.substr(0, 512) + "…";
  BoundedRead file = read_bounded(path, kMaxTraceBytes);
  using Status = BoundedRead::Status;
  const std::string reason = std::generic_category().message(file.error);
  switch (file.status) {
    case Status::ok: break;
    case Status::cannot_open: throw Error(shown + ": cannot open the trace: " + reason);
    case Status::cannot_read: throw Error(shown + ": cannot read the trace: " + reason);
    case Status::directory: throw Error(shown + ": is a directory, not a trace file");
    case Status::not_regular: throw Error(shown + ": is not a regular file; a trace must be one");
    case Status::too_large: throw Error(shown + ": the trace is larger than 256 MiB");
  }
  const std::string_view text = file.text;
  auto trace = std::make_shared<DelayTrace>();
  trace->path_ = shown;
  // Rows are kept for the run's workers only: memory follows the run, not the largest id in the file.
  trace->times_.resize(static_cast<std::size_t>(std::max(workers, 0)));
  std::size_t line_number = 0, columns = 0;
  std::optional<std::size_t> worker_column, seconds_column, compute_column, injected_column;
  for (std::size_t begin = 0; begin < text.size();) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string at = shown + ":" + std::to_string(line_number) + ": ";
    const std::vector<std::string_view> row = fields(line);
    if (line_number == 1) {  // the header
      columns = row.size();
      const std::pair<const char*, std::optional<std::size_t>*> read[] = {
          {"worker", &worker_column}, {"seconds", &seconds_column}, {"compute_s", &compute_column},
          {"injected_s", &injected_column}};
      for (std::size_t c = 0; c < row.size(); ++c)
        for (auto [name, column] : read) {
          if (row[c] != name) continue;
          if (*column)
            throw Error(at + "the header names '" + name + "' twice (columns " + std::to_string(**column + 1) +
                        " and " + std::to_string(c + 1) + "): which one is meant?");
          *column = c;
        }
      if (!worker_column || !(seconds_column || (compute_column && injected_column)))
        throw Error(at + "the header must name a 'worker' column and a 'seconds' column, or 'compute_s' and "
                         "'injected_s' (a run's delays.csv), got \"" + cut(line) + "\"");
      continue;
    }
    if (line.empty() && begin >= text.size()) break;  // the newline that ends the last row
    if (row.size() != columns)
      throw Error(at + "has " + std::to_string(row.size()) + " fields, the header " + std::to_string(columns));
    const std::optional<double> worker = number(row[*worker_column]);
    if (!worker || !(*worker >= 1.0 && *worker <= kMaxTraceWorker) || *worker != std::floor(*worker))
      throw Error(at + "worker must be an integer in [1, 1e9], got \"" + cut(row[*worker_column]) + "\"");
    const auto field = [&](std::size_t c, const char* name) {
      const std::optional<double> x = number(row[c]);
      if (!x || !std::isfinite(*x) || *x < 0.0 || *x > kMaxSeconds)
        throw Error(at + name + " must be a number in [0, 1e9], got \"" + cut(row[c]) + "\"");
      return *x;
    };
    const double seconds = seconds_column ? field(*seconds_column, "seconds")
                                          : field(*compute_column, "compute_s") + field(*injected_column, "injected_s");
    if (*worker > workers) {  // a worker this run does not have: counted for the warning, not kept
      ++trace->unreplayed_rows_;
      trace->unreplayed_first_ = std::min(trace->unreplayed_first_, static_cast<std::int64_t>(*worker));
      trace->unreplayed_last_ = std::max(trace->unreplayed_last_, static_cast<std::int64_t>(*worker));
      continue;
    }
    trace->times_[static_cast<std::size_t>(*worker) - 1].push_back(std::min(seconds, kMaxSeconds));
  }
  if (line_number == 0) throw Error(shown + ":1: the trace is empty (it needs a header and rows)");
  for (int w = 1; w <= workers; ++w)
    if (trace->times(w).empty())
      throw Error(shown + ": worker " + std::to_string(w) + " has no rows, and the run has " + std::to_string(workers) +
                  " workers (the trace has rows for " + std::to_string(std::count_if(
                      trace->times_.begin(), trace->times_.end(), [](const auto& t) { return !t.empty(); })) +
                  "); every worker replays its own rows");
  return trace;
}

std::optional<std::string> DelayTrace::unreplayed() const {
  if (unreplayed_rows_ == 0) return std::nullopt;
  const std::string first = std::to_string(unreplayed_first_), last = std::to_string(unreplayed_last_);
  const std::string run = std::to_string(workers());
  const bool one = unreplayed_rows_ == 1;
  return path_ + ": " + std::to_string(unreplayed_rows_) + (one ? " row of " : " rows of ") +
         (first == last ? "worker " + first : "workers " + first + " to " + last) + (one ? " is" : " are") +
         " not replayed: the run has " + run + " workers, and worker w replays the rows of worker w (a trace of a "
         "larger run replays its first " + run + ")";
}

}  // namespace ringmaster
