#include "ringmaster/recorder.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ringmaster/error.hpp"

namespace ringmaster {
namespace fs = std::filesystem;

namespace {

// A resumed run appends to the files of its first epoch; a new one creates them with their header.
std::FILE* open_csv(const fs::path& path, const char* header, bool append) {
  std::FILE* f = std::fopen(path.c_str(), append ? "a" : "w");
  if (!f) throw Error("cannot " + std::string(append ? "append to " : "create ") + path.string());
  // A large buffer keeps per-arrival logging to a memcpy; rows reach disk in big writes.
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  if (!append) std::fputs(header, f);
  return f;
}

// Writes `text` to `path` through a temporary file and a rename, so a reader never sees half of it.
void write_atomically(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) throw Error("cannot write " + tmp.string());
  }
  fs::rename(tmp, path);
}

nlohmann::json optional_json(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

fs::path choose_run_dir(const Config& config, const std::string& out, bool force) {
  const std::string requested = out.empty() ? config.run.out : out;
  if (!requested.empty()) {
    const fs::path dir(requested);
    std::error_code ec;
    if (fs::exists(dir, ec)) {
      if (!fs::is_directory(dir, ec)) throw Error("--out " + requested + ": exists and is not a directory");
      if (!fs::is_empty(dir, ec) && !force)
        throw Error("--out " + requested + ": directory exists and is not empty (a run never overwrites "
                    "another; pass --force to write into it anyway)");
    }
    return dir;
  }
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const fs::path base = fs::path("runs") / (std::string(stamp) + "-" + config.run.method);
  fs::path dir = base;
  for (int n = 1; fs::exists(dir); ++n) dir = base.string() + "-" + std::to_string(n);
  return dir;
}

Recorder::Recorder(fs::path dir, const Config& config, std::string engine, int workers, bool resume)
    : dir_(std::move(dir)), config_(config), engine_(std::move(engine)), workers_(workers) {
  if (!resume) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error("cannot create run directory " + dir_.string() + ": " + ec.message());
    write_atomically(dir_ / "config.toml", to_toml(config_));
  }
  events_ = open_csv(dir_ / "events.csv", "time_s,k,worker,version,delay,action,loss\n", resume);
  eval_ = open_csv(dir_ / "eval.csv", "time_s,k,loss,grad_dual_norm\n", resume);
  delays_ = open_csv(dir_ / "delays.csv", "worker,version,compute_s,injected_s\n", resume);
  for (double r : {1e-1, 1e-2, 1e-3, 1e-4, 1e-6}) relative_[r] = std::nullopt;
  next_progress_s_ = config_.run.log_every_s;
}

Recorder::~Recorder() {
  for (std::FILE* f : {events_, eval_, delays_})
    if (f) std::fclose(f);
}

void Recorder::arrival(double time_s, const Server& server, int worker, std::int64_t version,
                       const Outcome& outcome, double loss, double compute_s, double injected_s) {
  ++arrivals_;
  // k is the version at arrival, so that k − version = delay holds in every row.
  const std::int64_t k = version + outcome.delay;
  fmt::print(events_, "{:.6f},{},{},{},{},{},{:.6g}\n", time_s, k, worker, version, outcome.delay,
             to_string(outcome.action), loss);
  for (const Interrupt& i : outcome.interrupted)
    fmt::print(events_, "{:.6f},{},{},{},{},interrupt,\n", time_s, server.k(), i.worker, i.version,
               server.k() - i.version);
  fmt::print(delays_, "{},{},{:.6f},{:.6f}\n", worker, version, compute_s, injected_s);
}

double Recorder::evaluate(double time_s, Server& server, Objective& objective) {
  const Evaluation e = objective.evaluate(server.x());
  double dual = std::numeric_limits<double>::quiet_NaN();
  if (std::isfinite(e.loss)) {
    gradient_.resize(server.x().size());
    objective.full_gradient(server.x(), gradient_);
    dual = server.optimizer().dual_norm(gradient_);
  } else {
    // The run diverged (a too-large stepsize): record it and stop; an SVD of a NaN gradient would fail.
    if (!diverged_) spdlog::error("the loss is {} at k = {}: the run diverged; stopping", e.loss, server.k());
    diverged_ = true;
  }
  fmt::print(eval_, "{:.6f},{},{:.9g},{:.9g}\n", time_s, server.k(), e.loss, dual);
  std::fflush(eval_);
  if (evaluations_++ == 0) {
    initial_loss_ = e.loss;
    best_loss_ = e.loss;
  }
  best_loss_ = std::min(best_loss_, e.loss);
  last_loss_ = e.loss;
  if (config_.run.target_loss > 0.0 && e.loss <= config_.run.target_loss && !time_to_target_) {
    time_to_target_ = time_s;
    target_reached_ = true;
  }
  for (auto& [ratio, reached] : relative_)
    if (!reached && initial_loss_ > 0.0 && e.loss <= ratio * initial_loss_) reached = time_s;
  // The next grid point after time_s; computed as index · period, so it does not drift (7.4, not
  // 7.39999999999) however many evaluations came before.
  eval_index_ = std::max(eval_index_ + 1, static_cast<std::int64_t>(std::floor(time_s / config_.run.eval_every_s)) + 1);
  next_eval_s_ = static_cast<double>(eval_index_) * config_.run.eval_every_s;
  return e.loss;
}

RecorderState Recorder::state() const {
  return {initial_loss_, best_loss_, last_loss_, evaluations_, arrivals_, time_to_target_, relative_};
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
  next_eval_s_ = time_s;
  eval_index_ = static_cast<std::int64_t>(std::floor(time_s / config_.run.eval_every_s));
  next_progress_s_ = config_.run.log_every_s;
}

std::string Recorder::stop_reason(double time_s, const Server& server) const {
  if (diverged_) return "diverged";  // first: a NaN x also makes every worker's gradient bad
  if (server.active_workers() == 0) return "no_workers";
  if (time_s >= config_.run.time_budget_s) return "time_budget";
  if (config_.run.max_updates > 0 && server.k() >= config_.run.max_updates) return "max_updates";
  if (target_reached_) return "target_loss";
  return "";
}

void Recorder::progress(double wall_s, double time_s, const Server& server) {
  if (wall_s < next_progress_s_) return;
  next_progress_s_ = wall_s + config_.run.log_every_s;
  WorkerCounters total;
  for (int i = 1; i <= server.workers(); ++i) {
    const WorkerCounters& c = server.counters(i);
    total.accepted += c.accepted;
    total.discarded += c.discarded;
    total.interrupted += c.interrupted;
  }
  spdlog::info("t={:.1f}s k={} loss={:.4g} accepted={} discarded={} interrupted={} updates/s={:.0f}", time_s,
               server.k(), last_loss_, total.accepted, total.discarded, total.interrupted,
               time_s > 0 ? static_cast<double>(server.k()) / time_s : 0.0);
}

nlohmann::json Recorder::time_to_target_json() const {
  nlohmann::json t = nlohmann::json::object();  // target loss → training-clock seconds, or null
  if (config_.run.target_loss > 0.0) t[fmt::format("{:g}", config_.run.target_loss)] = optional_json(time_to_target_);
  return t;
}

void Recorder::finish(const Server& server, const std::vector<WorkerTimes>& times, const RunTotals& totals) {
  std::fflush(events_);
  std::fflush(delays_);
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
  write_atomically(dir_ / "workers.csv", workers_csv);

  nlohmann::json relative = nlohmann::json::object();
  for (const auto& [ratio, reached] : relative_) relative[fmt::format("{:g}", ratio)] = optional_json(reached);
  nlohmann::json summary = {
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
      {"target_loss", config_.run.target_loss},
      {"time_to_target", time_to_target_json()},
      {"time_to_relative_target", relative},
      {"server_busy_fraction", totals.server_busy_fraction},
  };
  write_atomically(dir_ / "summary.json", summary.dump(2) + "\n");
}

}  // namespace ringmaster
