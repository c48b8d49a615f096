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
      for (std::size_t c = 0; c < row.size(); ++c) {
        if (row[c] == "worker") worker_column = c;
        if (row[c] == "seconds") seconds_column = c;
        if (row[c] == "compute_s") compute_column = c;
        if (row[c] == "injected_s") injected_column = c;
      }
      if (!worker_column || !(seconds_column || (compute_column && injected_column)))
        throw Error(at + "the header must name a 'worker' column and a 'seconds' column, or 'compute_s' and "
                         "'injected_s' (a run's delays.csv), got \"" + cut(line) + "\"");
      continue;
    }
    if (line.empty() && begin >= text.size()) break;  // the newline that ends the last row
    if (row.size() != columns)
      throw Error(at + "has " + std::to_string(row.size()) + " fields, the header " + std::to_string(columns));
    const auto field = [&](std::size_t c, const char* name) {
      const std::optional<double> x = number(row[c]);
      if (!x || !std::isfinite(*x) || *x < 0.0 || *x > kMaxSeconds)
        throw Error(at + name + " must be a number in [0, 1e9], got \"" + cut(row[c]) + "\"");
      return *x;
    };
    const double worker = field(*worker_column, "worker");
    if (worker < 1.0 || worker != std::floor(worker))
      throw Error(at + "worker must be an integer >= 1, got \"" + cut(row[*worker_column]) + "\"");
    const double seconds = seconds_column ? field(*seconds_column, "seconds")
                                          : field(*compute_column, "compute_s") + field(*injected_column, "injected_s");
    const auto index = static_cast<std::size_t>(worker) - 1;
    if (index >= trace->times_.size()) trace->times_.resize(index + 1);
    trace->times_[index].push_back(std::min(seconds, kMaxSeconds));
  }
  if (line_number == 0) throw Error(shown + ":1: the trace is empty (it needs a header and rows)");
  for (int w = 1; w <= workers; ++w)
    if (w > trace->workers() || trace->times(w).empty())
      throw Error(shown + ": worker " + std::to_string(w) + " has no rows, and the run has " + std::to_string(workers) +
                  " workers (the trace has rows for " + std::to_string(std::count_if(
                      trace->times_.begin(), trace->times_.end(), [](const auto& t) { return !t.empty(); })) +
                  "); every worker replays its own rows");
  return trace;
}

}  // namespace ringmaster
