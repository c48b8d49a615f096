#include "ringmaster/recorder.hpp"

#include <fmt/compile.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>

#include "ringmaster/error.hpp"

namespace ringmaster {
namespace fs = std::filesystem;

namespace {

// docs/method.md §8: with run.log_interrupts = "counts" the interrupt rows give way to a last column.
std::string events_header(bool interrupt_rows) {
  return std::string("time_s,k,worker,version,delay,action,loss") + (interrupt_rows ? "" : ",interrupted") + "\n";
}
constexpr const char* kDelaysHeader = "worker,version,compute_s,injected_s\n";
constexpr const char* kWindowsHeader = "time_s,k,started_s,finished_s,compute_s\n";

// A new run creates each CSV file with its header; a resumed one cuts it back to its checkpoint's size.
CsvFile open_csv(const fs::path& path, std::string_view header, const std::uint64_t* resume_at) {
  return resume_at ? CsvFile::resume(path, *resume_at) : CsvFile::create(path, header);
}

nlohmann::json optional_json(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

// docs/method.md §8: time_s,k,loss,grad_dual_norm[,accuracy][,train_loss]. The quadratic keeps the first four.
std::string eval_header(EvalColumns columns) {
  return std::string("time_s,k,loss,grad_dual_norm") + (columns.accuracy ? ",accuracy" : "") +
         (columns.train_loss ? ",train_loss" : "") + "\n";
}

std::string eval_row(EvalColumns columns, const EvalResult& r) {
  std::string row = fmt::format("{:.6f},{},{:.9g},{:.9g}", r.snapshot.time_s, r.snapshot.k, r.evaluation.loss,
                                r.grad_dual_norm);
  // An empty field: no accuracy from this objective's evaluation, or no minibatch accepted in the window.
  if (columns.accuracy) row += r.evaluation.accuracy ? fmt::format(",{:.9g}", *r.evaluation.accuracy) : ",";
  if (columns.train_loss) {
    const std::optional<double> train = r.snapshot.train.mean();
    row += train ? fmt::format(",{:.9g}", *train) : ",";
  }
  return row + "\n";
}

Recorder::Recorder(const RunDir& run, const Config& config, std::string engine, int workers, EvalColumns columns,
                   const RecorderState* resume)
    : dir_(run.path()),
      run_id_(run.run_id()),
      config_(config),
      engine_(std::move(engine)),
      workers_(workers),
      interrupt_rows_(config.run.log_interrupts == LogInterrupts::rows),
      events_(open_csv(dir_ / "events.csv", events_header(interrupt_rows_), resume ? &resume->events_bytes : nullptr)),
      eval_(open_csv(dir_ / "eval.csv", eval_header(columns), resume ? &resume->eval_bytes : nullptr)),
      delays_(open_csv(dir_ / "delays.csv", kDelaysHeader, resume ? &resume->delays_bytes : nullptr)),
      // A checkpoint from before eval_windows.csv existed has no size for it: the file starts afresh.
      windows_(open_csv(dir_ / "eval_windows.csv", kWindowsHeader,
                        resume && resume->windows_bytes ? &*resume->windows_bytes : nullptr)),
      columns_(columns),
      progress_clock_(config.run.log_every_s) {
  if (!resume) write_file_atomically(dir_ / "config.toml", to_toml(config_));
  for (double r : {1e-1, 1e-2, 1e-3, 1e-4, 1e-6}) relative_[r] = std::nullopt;
  // Test-accuracy thresholds of summary.json's time_to_accuracy (classifiers; tools/sweep.py's
  // "accuracy:<threshold>" targets).
  if (columns_.accuracy)
    for (double a : {0.8, 0.85, 0.88, 0.9}) accuracy_[a] = std::nullopt;
}

void Recorder::arrival(double time_s, const Server& server, int worker, std::int64_t version,
                       const Outcome& outcome, double loss, double compute_s, double injected_s) {
  ++arrivals_;
  // k is the version at arrival, so that k − version = delay holds in every row.
  const std::int64_t k = version + outcome.delay;
  if (interrupt_rows_) {
    events_.row("{:.6f},{},{},{},{},{},{:.6g}\n", time_s, k, worker, version, outcome.delay,
                to_string(outcome.action), loss);
    interrupts(time_s, server.k(), outcome.interrupted);
  } else {
    events_.row("{:.6f},{},{},{},{},{},{:.6g},{}\n", time_s, k, worker, version, outcome.delay,
                to_string(outcome.action), loss, outcome.interrupted.size());
  }
  delays_.row("{},{},{:.6f},{:.6f}\n", worker, version, compute_s, injected_s);
  if (columns_.train_loss && outcome.action == Action::accept) train_.add(loss);
}

void Recorder::interrupts(double time_s, std::int64_t k, const std::vector<Interrupt>& interrupted) {
  if (interrupted.empty()) return;
  // Every row shares its time and k: formatted once. The rest are integers, by a format compiled ahead
  // (FMT_COMPILE: the same digits as "{}") rather than parsed per row: an update at 6,174 workers
  // interrupts ~1,500 computations.
  const std::string prefix = fmt::format("{:.6f},{},", time_s, k);
  events_.rows([&](std::string& out) {
    for (const Interrupt& i : interrupted) {
      out += prefix;
      fmt::format_to(std::back_inserter(out), FMT_COMPILE("{},{},{},interrupt,\n"), i.worker, i.version,
                     k - i.version);
    }
  });
}

EvalSnapshot Recorder::begin_evaluation(double time_s, std::int64_t k) {
  // The next grid point after time_s; computed as index · period, so it does not drift (7.4, not
  // 7.39999999999) however many evaluations came before.
  eval_index_ = std::max(eval_index_ + 1, static_cast<std::int64_t>(std::floor(time_s / config_.run.eval_every_s)) + 1);
  next_eval_s_ = static_cast<double>(eval_index_) * config_.run.eval_every_s;
  EvalSnapshot snapshot{time_s, k, train_};
  train_ = {};
  return snapshot;
}

void Recorder::record_evaluation(const EvalResult& r) {
  const double time_s = r.snapshot.time_s;
  const double loss = r.evaluation.loss;
  if (!std::isfinite(loss)) {
    // The run diverged (a too-large stepsize): record it and stop (stop_reason).
    if (!diverged_) spdlog::error("the loss is {} at k = {}: the run diverged; stopping", loss, r.snapshot.k);
    diverged_ = true;
  }
  eval_.rows([&](std::string& out) { out += eval_row(columns_, r); });
  eval_.flush();
  windows_.row("{:.6f},{},{:.6f},{:.6f},{:.6f}\n", time_s, r.snapshot.k, r.started_s, r.finished_s, r.compute_s);
  windows_.flush();
  if (evaluations_++ == 0) {
    initial_loss_ = loss;
    best_loss_ = loss;
  }
  best_loss_ = std::min(best_loss_, loss);
  last_loss_ = loss;
  if (columns_.accuracy) {  // the summary reports what eval.csv does
    last_accuracy_ = r.evaluation.accuracy;
    if (r.evaluation.accuracy && (!best_accuracy_ || *r.evaluation.accuracy > *best_accuracy_))
      best_accuracy_ = r.evaluation.accuracy;
    for (auto& [level, reached] : accuracy_)
      if (!reached && r.evaluation.accuracy && *r.evaluation.accuracy >= level) reached = time_s;
  }
  if (config_.run.target_loss > 0.0 && loss <= config_.run.target_loss && !time_to_target_) {
    time_to_target_ = time_s;
    target_reached_ = true;
  }
  for (auto& [ratio, reached] : relative_)
    if (!reached && initial_loss_ > 0.0 && loss <= ratio * initial_loss_) reached = time_s;
}

RecorderState Recorder::checkpoint() {
  // Synced before the checkpoint that records their sizes is written: after a crash the files hold at
  // least what the checkpoint says (docs/method.md §8; a resume cuts them back to exactly that).
  events_.sync();
  eval_.sync();
  delays_.sync();
  windows_.sync();
  return {initial_loss_,  best_loss_,      last_loss_,      evaluations_, arrivals_,       time_to_target_,
          relative_,      last_accuracy_,  best_accuracy_,  accuracy_,    events_.size(),  eval_.size(),
          delays_.size(), windows_.size()};
}

void Recorder::restore(const RecorderState& s, double time_s) {
  initial_loss_ = s.initial_loss;
  best_loss_ = s.best_loss;
  last_loss_ = s.last_loss;
  evaluations_ = s.evaluations;
  arrivals_ = s.arrivals;
  time_to_target_ = s.time_to_target;
  target_reached_ = config_.run.target_loss > 0.0 && s.time_to_target.has_value();
  for (const auto& [ratio, reached] : s.relative) relative_[ratio] = reached;
  last_accuracy_ = s.last_accuracy;
  best_accuracy_ = s.best_accuracy;
  for (const auto& [level, reached] : s.accuracy)
    if (accuracy_.contains(level)) accuracy_[level] = reached;
  next_eval_s_ = time_s;
  eval_index_ = static_cast<std::int64_t>(std::floor(time_s / config_.run.eval_every_s));
}

std::string Recorder::stop_reason(double time_s, const Server& server) const {
  if (diverged_) return "diverged";  // first: a NaN x also makes every worker's gradient bad
  if (server.active_workers() == 0) return "no_workers";
  if (time_s >= config_.run.time_budget_s) return "time_budget";
  if (config_.run.max_updates > 0 && server.k() >= config_.run.max_updates) return "max_updates";
  if (target_reached_) return "target_loss";
  return "";
}

bool ProgressClock::due(double wall_s) {
  if (wall_s < next_s_) return false;
  // On the grid of the first line, so that a slow step does not push every later line back.
  while (next_s_ <= wall_s) next_s_ += every_s_;
  return true;
}

double Recorder::budget_fraction(double time_s, std::int64_t k) const {
  double fraction = time_s / config_.run.time_budget_s;
  if (config_.run.max_updates > 0)
    fraction = std::max(fraction, static_cast<double>(k) / static_cast<double>(config_.run.max_updates));
  return std::clamp(fraction, 0.0, 1.0);
}

std::string Recorder::losses_text() const {
  if (evaluations_ == 0) return "no loss evaluated yet";
  std::string text = fmt::format("loss={:.4g} (best {:.4g})", last_loss_, best_loss_);
  if (last_accuracy_) text += fmt::format(" accuracy={:.4f} (best {:.4f})", *last_accuracy_, best_accuracy_.value_or(0.0));
  return text;
}

void Recorder::progress(double wall_s, double time_s, const Server& server) {
  const double fraction = budget_fraction(time_s, server.k());
  if (!progress_origin_) progress_origin_.emplace(wall_s, fraction);  // this epoch's start, for the ETA
  if (!progress_clock_.due(wall_s)) return;
  WorkerCounters total;
  for (int i = 1; i <= server.workers(); ++i) {
    const WorkerCounters& c = server.counters(i);
    total.accepted += c.accepted;
    total.discarded += c.discarded;
    total.interrupted += c.interrupted;
  }
  // The budget left at the pace of this epoch so far (wall seconds): its time budget or max_updates,
  // whichever is nearer its end; a target loss may end the run sooner.
  const auto [wall0, fraction0] = *progress_origin_;
  const double done = fraction - fraction0;
  const double left_s = done > 0.0 ? (wall_s - wall0) * (1.0 - fraction) / done : -1.0;
  const std::string eta = left_s < 0.0   ? std::string("?")
                          : left_s < 10.0 ? fmt::format("{:.1f}s", left_s)
                                          : fmt::format("{:.0f}s", left_s);
  // The last evaluated loss (eval.csv's last row): nothing is evaluated for a progress line (§7).
  spdlog::info("t={:.1f}s ({:.0f}% of the budget, eta {}) k={} {} accepted={} discarded={} interrupted={} updates/s={:.0f}", time_s,
               100.0 * fraction, eta, server.k(), losses_text(), total.accepted, total.discarded, total.interrupted,
               time_s > 0 ? static_cast<double>(server.k()) / time_s : 0.0);
}

nlohmann::json Recorder::time_to_target_json() const {
  nlohmann::json t = nlohmann::json::object();  // target loss → training-clock seconds, or null
  if (config_.run.target_loss > 0.0) t[fmt::format("{:g}", config_.run.target_loss)] = optional_json(time_to_target_);
  return t;
}

void Recorder::finish(const Server& server, const std::vector<WorkerTimes>& times, const RunTotals& totals) {
  events_.close();
  eval_.close();
  delays_.close();
  windows_.close();
  std::string workers_csv =
      "worker,computed,accepted,discarded,superseded,interrupted,busy_s,injected_s,rejected,retired\n";
  WorkerCounters total;
  for (int i = 1; i <= server.workers(); ++i) {
    const WorkerCounters& c = server.counters(i);
    const WorkerTimes& t = times.at(static_cast<std::size_t>(i - 1));
    workers_csv += fmt::format("{},{},{},{},{},{},{:.6f},{:.6f},{},{}\n", i, c.computed, c.accepted, c.discarded,
                               c.superseded, c.interrupted, t.busy_s, t.injected_s, c.rejected,
                               server.retired(i) ? 1 : 0);
    total.computed += c.computed;
    total.accepted += c.accepted;
    total.discarded += c.discarded;
    total.superseded += c.superseded;
    total.interrupted += c.interrupted;
    total.rejected += c.rejected;
  }
  write_file_atomically(dir_ / "workers.csv", workers_csv);

  nlohmann::json relative = nlohmann::json::object();
  for (const auto& [ratio, reached] : relative_) relative[fmt::format("{:g}", ratio)] = optional_json(reached);
  nlohmann::json accuracy = nullptr;  // null without an accuracy column
  if (columns_.accuracy) {
    accuracy = nlohmann::json::object();
    for (const auto& [level, reached] : accuracy_) accuracy[fmt::format("{:g}", level)] = optional_json(reached);
  }
  nlohmann::json summary = {
      {"run_id", run_id_},
      {"method", config_.run.method},
      {"engine", engine_},
      {"n_workers", workers_},
      {"seed", config_.run.seed},
      {"wall_time_s", totals.wall_time_s},
      {"train_time_s", totals.train_time_s},
      {"eval_time_s", totals.eval_time_s},
      {"stop_reason", totals.stop_reason},
      {"epochs", totals.epoch + 1},
      {"updates", server.k()},
      {"arrivals", total.computed},
      {"accepted", total.accepted},
      {"discarded", total.discarded},
      {"superseded", total.superseded},
      {"interrupted", total.interrupted},
      {"rejected", total.rejected},
      {"retired", server.workers() - server.active_workers()},
      {"initial_loss", initial_loss_},
      {"final_loss", last_loss_},
      {"best_loss", best_loss_},
      {"final_accuracy", optional_json(last_accuracy_)},  // null without an accuracy (docs/method.md §8)
      {"best_accuracy", optional_json(best_accuracy_)},
      {"target_loss", config_.run.target_loss},
      {"time_to_target", time_to_target_json()},
      {"time_to_relative_target", relative},
      {"time_to_accuracy", accuracy},
      {"server_busy_fraction", totals.server_busy_fraction},
      {"compute_s", optional_json(totals.compute_s)},
  };
  if (totals.server_update_s) summary["server_update_s"] = *totals.server_update_s;
  if (totals.memory)
    summary["memory"] = {{"point_bytes", totals.memory->point_bytes},
                         {"point_buffers", totals.memory->point_buffers},
                         {"gradient_buffers", totals.memory->gradient_buffers},
                         {"server_peak_rss_bytes", totals.memory->server_peak_rss_bytes},
                         {"worker_peak_rss_bytes", totals.memory->worker_peak_rss_bytes}};
  write_file_atomically(dir_ / "summary.json", summary.dump(2) + "\n");
}

}  // namespace ringmaster
