#include "ringmaster/run.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <limits>

#include "ringmaster/error.hpp"
#include "ringmaster/provenance.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point begin) { return std::chrono::duration<double>(Clock::now() - begin).count(); }

// Shard 0's slice of a whole-model buffer (the whole buffer when unsharded or empty).
std::vector<float> shard0(const std::vector<float>& whole, const ShardPlan* shard) {
  if (!shard || whole.empty()) return whole;
  return shard->copy_slice(whole, 0);
}

// x0 (docs/method.md §6), or shard 0's slice of it, for the Server to copy.
std::vector<float> initial_point(const Objective& objective, const ShardPlan* shard) {
  std::vector<float> x0(objective.layout().size());
  objective.initial_point(x0);
  return shard0(x0, shard);
}

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }

}  // namespace

Run::Run(const Config& config, Objective& objective, Recorder& recorder, int workers, const Checkpoint* resume,
         std::string command, UpdateExecutorFactory updates, const ShardPlan* shard)
    : config_(config),
      objective_(objective),
      recorder_(recorder),
      command_(std::move(command)),
      server_(config, shard ? shard->layout(0) : objective.layout(), initial_point(objective, shard), workers,
              std::move(updates)),
      scratch_(objective.layout(), config.lmo.options()),
      times_(static_cast<std::size_t>(workers)),
      last_heard_(static_cast<std::size_t>(workers), 0.0),
      interrupted_(static_cast<std::size_t>(workers), 0) {
  if (resume) {
    // A checkpoint holds the whole model whatever the number of shards it was written with.
    MethodState method = resume->method;
    method.sum = shard0(method.sum, shard);
    server_.restore(resume->k, shard0(resume->x, shard), shard0(resume->m, shard), resume->counters, method);
    times_ = resume->times;
    epoch_ = resume->epoch + 1;
    start_time_s_ = resume->train_time_s;
    earlier_wall_s_ = resume->wall_time_s;
    checkpointed_.emplace(resume->k, resume->train_time_s);
    recorder_.restore(resume->recorder, resume->train_time_s);
  }
  times_at_start_ = times_;
}

const Outcome& Run::start(double t) {
  wall_begin_ = Clock::now();
  last_checkpoint_ = wall_begin_;
  std::fill(last_heard_.begin(), last_heard_.end(), t);
  if (epoch_ > 0) spdlog::info("resuming at k={} and t={:.2f}s (epoch {})", server_.k(), t, epoch_);
  if (const auto& trace = config_.heterogeneity.trace_times.trace)
    if (const std::optional<std::string> unreplayed = trace->unreplayed())
      spdlog::warn("heterogeneity.trace: {}", *unreplayed);
  evaluate(t);  // f(x0), at training time 0 (or the resumed point)
  return after(server_.start(), t);
}

const Outcome& Run::on_gradient(double t, int worker, std::int64_t version, std::span<const float> g, double loss,
                                double compute_s, double injected_s, bool finite) {
  last_heard_[at(worker)] = t;
  times_[at(worker)].busy_s += compute_s;
  times_[at(worker)].injected_s += injected_s;
  const Outcome& outcome = server_.on_gradient(worker, version, g, finite);
  recorder_.arrival(t, server_, worker, version, outcome, loss, compute_s, injected_s);
  return after(outcome, t);
}

const Outcome& Run::on_malformed(double t, int worker) {
  last_heard_[at(worker)] = t;
  // Nothing in a malformed message can be trusted, not even its version or times: recorded at the
  // version the worker was handed, with no loss and no times.
  const std::int64_t version = server_.version(worker);
  const Outcome& outcome = server_.on_malformed(worker);
  recorder_.arrival(t, server_, worker, version, outcome, 0.0, 0.0, 0.0);
  return after(outcome, t);
}

void Run::heard(int worker, double t) { last_heard_[at(worker)] = t; }

const Outcome& Run::after(const Outcome& outcome, double t) {
  // An interrupted worker still owes what it owed: only its acknowledgement (heard()) shows it alive.
  // Marked first, so that an update interrupting a thousand workers costs a pass, not a search per worker.
  for (const Interrupt& i : outcome.interrupted) interrupted_[at(i.worker)] = 1;
  for (int worker : outcome.assign)
    if (!interrupted_[at(worker)]) last_heard_[at(worker)] = t;
  for (const Interrupt& i : outcome.interrupted) interrupted_[at(i.worker)] = 0;
  for (int worker : outcome.retired)
    if (server_.bad_in_a_row(worker) >= config_.fault.max_bad)
      spdlog::warn("worker {} retired after {} bad gradients in a row; training goes on with {} workers", worker,
                   server_.bad_in_a_row(worker), server_.active_workers());
  return outcome;
}

double Run::next_silence_s() const {
  const double timeout = config_.fault.worker_timeout_s;
  double next = std::numeric_limits<double>::infinity();
  if (timeout <= 0.0) return next;
  for (int w = 1; w <= server_.workers(); ++w)
    if (!server_.retired(w) && server_.computing(w)) next = std::min(next, last_heard_[at(w)] + timeout);
  return next;
}

// A worker that owes a gradient and stays silent for fault.worker_timeout_s after it was handed a point
// (or last heard from: a gradient, or the acknowledgement of an interrupt) is treated as gone, under
// every method (docs/method.md §4 "Faults"): sync and rennala would wait for it, and under the
// asynchronous methods it would keep a share of the interrupts and points it never takes.
const Outcome* Run::retire_silent(double t) {
  const double timeout = config_.fault.worker_timeout_s;
  if (timeout <= 0.0) return nullptr;
  for (int w = 1; w <= server_.workers(); ++w) {
    if (server_.retired(w) || !server_.computing(w) || t < last_heard_[at(w)] + timeout) continue;
    spdlog::warn("worker {} silent for {:.1f} s (fault.worker_timeout_s = {}): treated as gone", w,
                 t - last_heard_[at(w)], timeout);
    return &after(server_.retire(w), t);
  }
  return nullptr;
}

void Run::evaluate_apart() { evaluator_ = std::make_unique<Evaluator>(objective_, config_.lmo.options()); }

std::span<const float> Run::whole_x() {
  server_.settle(server_.k());
  if (!peers_) return server_.x();
  flush_evaluation();  // its x is in the buffer the next gather fills
  return peers_->gather(false).x;
}

void Run::flush_evaluation() {
  if (!gathering_) return;
  const WholeState& whole = peers_->gather(false);  // completes the request in flight
  evaluator_->submit(*gathering_, whole.x);
  gathering_.reset();
}

void Run::evaluate(double t) {
  if (peers_ && evaluator_) {
    // A sharded server: the followers' slices at this version land while serving goes on
    // (docs/method.md §7 "Sharded server"); collect_evaluations() hands them on.
    flush_evaluation();
    gathering_ = recorder_.begin_evaluation(t, server_.k());
    peers_->start_gather();
    return;
  }
  const std::span<const float> x = whole_x();
  const EvalSnapshot snapshot = recorder_.begin_evaluation(t, server_.k());
  if (evaluator_) {
    evaluator_->submit(snapshot, x);
    return;
  }
  // Inline, through the same two halves the evaluator thread runs: the evaluation starts and finishes
  // at t and is not charged to the training clock (docs/method.md §7).
  EvalResult r = evaluate_snapshot(objective_, scratch_, snapshot, x);
  r.started_s = r.finished_s = t;
  recorder_.record_evaluation(r);
  eval_s_ += r.compute_s;
  overhead_s_ += r.compute_s;
}

void Run::collect_evaluations() {
  if (!evaluator_) return;
  if (gathering_) {
    if (const WholeState* whole = peers_->poll_gather()) {
      evaluator_->submit(*gathering_, whole->x);
      gathering_.reset();
    }
  }
  for (const EvalResult& r : evaluator_->poll()) recorder_.record_evaluation(r);
}

void Run::checkpoint_if_due(double t) {
  if (config_.checkpoint.every_s > 0.0 && seconds_since(last_checkpoint_) >= config_.checkpoint.every_s) checkpoint(t);
}

void Run::checkpoint(double t) {
  const auto begin = Clock::now();
  server_.settle(server_.k());
  Checkpoint c;
  c.run_id = recorder_.run_id();
  c.config_hash = config_hash(config_);
  if (const auto shape = objective_row(config_.objective.kind).shape) c.model_shape = shape(config_);
  c.workers = server_.workers();
  c.epoch = epoch_;
  c.k = server_.k();
  c.train_time_s = t;
  c.wall_time_s = earlier_wall_s_ + wall_s();
  // x and m go into the file from where they are (docs/method.md §1 "Memory"): the Server's own buffers,
  // or, with shards, the whole model gathered from them.
  CheckpointArrays arrays;
  if (peers_) {
    flush_evaluation();
    const WholeState& whole = peers_->gather(true);
    c.method = whole.method;
    arrays = {whole.x, whole.m, c.method.sum};
  } else {
    c.method = server_.method().state();
    arrays = {server_.x(), server_.momentum(), c.method.sum};
  }
  for (int w = 1; w <= server_.workers(); ++w) c.counters.push_back(server_.counters(w));
  c.times = times_;
  c.recorder = recorder_.checkpoint();  // flushes the CSV files first: c records their sizes
  c.data = objective_.data_fingerprint();
  write_checkpoint(recorder_.dir() / kCheckpointFile, c, arrays);
  overhead_s_ += seconds_since(begin);  // not charged to the training clock either (docs/method.md §7)
  last_checkpoint_ = Clock::now();
  checkpointed_.emplace(c.k, t);
}

std::string Run::resume_hint() const {
  if (!checkpointed_) return "no checkpoint was written: the run cannot be resumed";
  return fmt::format("continue with: {} (its checkpoint at k = {}, t = {:.2f} s)", shown(command_, kShownMessage),
                     checkpointed_->first, checkpointed_->second);
}

std::string Run::stop_reason(double t) const {
  if (stop_signal() != 0) return "signal";
  return recorder_.stop_reason(t, server_);
}

void Run::progress(double t) { recorder_.progress(wall_s(), t, server_); }

double Run::wall_s() const { return seconds_since(wall_begin_); }

void Run::stop(double t) {
  if (!evaluator_) {
    evaluate(t);
    return;
  }
  if (peers_) flush_evaluation();
  for (const EvalResult& r : evaluator_->drain()) recorder_.record_evaluation(r);
  const std::span<const float> x = whole_x();
  const EvalResult r = evaluator_->evaluate_now(recorder_.begin_evaluation(t, server_.k()), x);
  recorder_.record_evaluation(r);
}

int Run::finish(double t, const std::string& reason, double server_busy_fraction, std::optional<double> compute_s,
                std::optional<double> server_update_s,
                std::optional<RunMemory> memory) {
  checkpoint(t);
  RunTotals totals;
  totals.wall_time_s = earlier_wall_s_ + wall_s();
  totals.train_time_s = t;
  totals.server_busy_fraction = server_busy_fraction;
  totals.eval_time_s = evaluator_ ? evaluator_->busy_s() : eval_s_;
  totals.stop_reason = reason;
  totals.epoch = epoch_;
  totals.compute_s = compute_s;
  totals.server_update_s = server_update_s;
  totals.memory = std::move(memory);
  recorder_.finish(server_, times_, totals);
  spdlog::info("stopped ({}) at t={:.2f}s after {} updates and {} arrivals in {:.2f}s wall; final {}; run directory {}",
               reason, t, server_.k(), recorder_.arrivals(), wall_s(), recorder_.losses_text(),
               shown_path(recorder_.dir()));
  if (reason != "signal") return kExitOk;
  spdlog::info("stopped by a signal: checkpoint written; {}", resume_hint());
  return kExitStopped;
}

namespace {

// An argument as a POSIX shell reads it back: as it is when it holds only safe characters, else in single
// quotes.
std::string shell_word(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=+:,@%-") ==
                          std::string::npos)
    return arg;
  std::string quoted = "'";
  for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

const char* engine_name(ConfigFor engine) { return engine == ConfigFor::mpi ? "mpi" : "sim"; }

// The stop rule a resume would meet at once (Recorder::stop_reason on the checkpoint's state), said for
// the user, or nullopt: such a run has nothing left to train (docs/method.md §8).
std::optional<std::string> finished_by(const Checkpoint& c, const Config& config) {
  const RunConfig& run = config.run;
  if (!std::isfinite(c.recorder.last_loss))
    return fmt::format("it diverged (loss {} at k = {}); start a new run with a smaller stepsize", c.recorder.last_loss,
                       c.k);
  if (c.train_time_s >= run.time_budget_s)
    return fmt::format("its training clock is at t = {:.2f} s, the time budget run.time_budget_s = {:g}; resume with "
                       "a larger --set run.time_budget_s to train on",
                       c.train_time_s, run.time_budget_s);
  if (run.max_updates > 0 && c.k >= run.max_updates)
    return fmt::format("it made k = {} updates, run.max_updates = {}; resume with a larger --set run.max_updates to "
                       "train on",
                       c.k, run.max_updates);
  if (run.target_loss > 0.0 && c.recorder.time_to_target)
    return fmt::format("it reached run.target_loss = {:g} at t = {:.2f} s; resume with a smaller --set "
                       "run.target_loss to train on",
                       run.target_loss, *c.recorder.time_to_target);
  return std::nullopt;
}

}  // namespace

std::string resume_command(const RunRequest& request, const std::filesystem::path& dir, int ranks) {
  const std::string program = request.argv.empty() ? "ringmaster" : request.argv.front();
  std::string command = ranks > 0 ? "mpirun -np " + std::to_string(ranks) + " " : "";
  command += shell_word(program) + (ranks > 0 ? " train" : " simulate") + " --resume " + shell_word(dir.string());
  // A fresh run's config.toml holds its -c file and --set overrides resolved; a resume's own ones (a longer
  // time budget) are not written there, so its hint repeats them.
  if (!request.resume.empty()) {
    if (request.config_path != (std::filesystem::path(request.resume) / "config.toml").string())
      command += " -c " + shell_word(request.config_path);
    for (const std::string& set : request.overrides) command += " --set " + shell_word(set);
  }
  return command;
}

Resumed open_resumed(const std::string& dir, const Config& config, int workers, const Objective& objective,
                     ConfigFor engine) {
  RunDir run_dir = RunDir::resume(dir);
  // A checkpoint holds the state, not the clock it ran on: under the other engine its training clock (wall
  // or virtual seconds) and its workers' histories would mean something else (docs/method.md §8).
  if (const std::optional<std::string> ran = recorded_engine(run_dir.path()); ran && *ran != engine_name(engine))
    throw Error("--resume " + shown_path(dir) + ": the run was made by " +
                (*ran == "mpi" ? "the MPI engine (ringmaster train)" : "the simulator (ringmaster simulate)") +
                "; it resumes only there: " +
                (*ran == "mpi" ? "mpirun -np N+1 ringmaster train --resume " : "ringmaster simulate --resume ") +
                shown_path(dir));
  const std::filesystem::path file = run_dir.path() / kCheckpointFile;
  const std::size_t params = objective.layout().size();
  const DataFingerprint& data = objective.data_fingerprint();
  Checkpoint checkpoint = read_checkpoint(file, checkpoint_payload_limit(params, workers));
  check_resumable(checkpoint, config, workers, params, run_dir.run_id(), file.string(), data, engine);
  if (std::optional<std::string> why = finished_by(checkpoint, config))
    return {std::move(run_dir), std::move(checkpoint), "the run already finished: " + *why + " (" + shown_path(dir) +
                                                           " is left as it is)"};
  // Written before checkpoints kept a fingerprint: refusing would strand every such run, and its data is
  // as likely unchanged as the run's own files are. Said once, since nothing is checked.
  if (!checkpoint.data && !data.files.empty())
    spdlog::warn("checkpoint {} records no fingerprint of the run's data (it was written by an earlier version): {} "
                 "is not checked against the data the run was trained on; the next checkpoint records it",
                 file.string(), data.source);
  return {std::move(run_dir), std::move(checkpoint), std::nullopt};
}

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaction(signal, &action, nullptr);
}

int stop_signal() { return g_stop_signal; }

}  // namespace ringmaster
