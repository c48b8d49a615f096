// Evaluation of the full loss off the server's critical path (docs/method.md §7, §8). See evaluator.hpp.
#include "ringmaster/evaluator.hpp"

#include <spdlog/spdlog.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "ringmaster/clock.hpp"

namespace ringmaster {

EvalScratch::EvalScratch(const ParamLayout& layout_, const LmoOptions& options)
    : gradient(layout_.size()), workspaces(make_workspaces(layout_, options)), layout(layout_) {}

EvalResult evaluate_snapshot(Objective& objective, EvalScratch& scratch, const EvalSnapshot& snapshot,
                             std::span<const float> x) {
  const double begin = steady_seconds();
  EvalResult r;
  r.snapshot = snapshot;
  r.evaluation = objective.evaluate(x);
  r.grad_dual_norm = std::numeric_limits<double>::quiet_NaN();
  // A non-finite loss means the run diverged (a too-large stepsize): the recorder stops it; an SVD of a
  // NaN gradient would fail, so none is taken.
  if (std::isfinite(r.evaluation.loss)) {
    objective.full_gradient(x, scratch.gradient);
    r.grad_dual_norm = dual_norm(scratch.layout, scratch.gradient, scratch.workspaces);
  }
  r.compute_s = steady_seconds() - begin;
  return r;
}

Evaluator::Evaluator(Objective& objective, const LmoOptions& options)
    : objective_(objective), scratch_(objective.layout(), options), thread_([this] { loop(); }) {}

Evaluator::~Evaluator() {
  {
    std::lock_guard<std::mutex> hold(lock_);
    stop_ = true;
    waiting_.reset();
  }
  wake_.notify_all();
  thread_.join();
}

void Evaluator::submit(const EvalSnapshot& snapshot, std::span<const float> x) {
  // Everything under the lock, the copy of x included (milliseconds even for millions of floats): the
  // thread takes the lock only to pick up a job and to hand in its result.
  {
    std::lock_guard<std::mutex> hold(lock_);
    Job job;
    job.snapshot = snapshot;
    if (waiting_) {
      // The thread is behind (evaluations take longer than run.eval_every_s): the newer snapshot takes the
      // waiting one's place and its train-loss window, so memory stays bounded (docs/method.md §7).
      job.snapshot.train.merge(waiting_->snapshot.train);
      job.x = std::move(waiting_->x);
      ++replaced_;
      if (!warned_) {
        warned_ = true;
        spdlog::warn("evaluating the full loss takes longer than run.eval_every_s: a waiting snapshot (k = {}) "
                     "was replaced by a newer one (k = {}); eval.csv gets fewer rows",
                     waiting_->snapshot.k, snapshot.k);
      }
    } else if (!spare_.empty()) {
      job.x = std::move(spare_.back());
      spare_.pop_back();
    }
    job.x.assign(x.begin(), x.end());
    job.submitted_wall = steady_seconds();
    waiting_ = std::move(job);
  }
  wake_.notify_one();
}

void Evaluator::loop() {
  std::unique_lock<std::mutex> hold(lock_);
  for (;;) {
    wake_.wait(hold, [this] { return stop_ || waiting_.has_value(); });
    if (stop_) return;
    Job job = std::move(*waiting_);
    waiting_.reset();
    running_ = true;
    hold.unlock();
    const double started = steady_seconds();
    std::optional<EvalResult> result;
    std::exception_ptr failure;
    try {
      result = evaluate_snapshot(objective_, scratch_, job.snapshot, job.x);
      // Under MPI the training clock is wall time: the computation ran over these seconds of it.
      result->started_s = job.snapshot.time_s + (started - job.submitted_wall);
      result->finished_s = result->started_s + result->compute_s;
    } catch (...) {
      failure = std::current_exception();
    }
    const double spent = steady_seconds() - started;
    hold.lock();
    busy_s_ += spent;
    if (result) finished_.push_back(std::move(*result));
    if (failure && !failure_) failure_ = failure;
    spare_.push_back(std::move(job.x));
    running_ = false;
    if (!waiting_) idle_.notify_all();
  }
}

std::vector<EvalResult> Evaluator::take_finished() {
  if (failure_) {
    std::exception_ptr failure = failure_;
    failure_ = nullptr;
    std::rethrow_exception(failure);
  }
  std::vector<EvalResult> out;
  out.swap(finished_);
  return out;
}

std::vector<EvalResult> Evaluator::poll() {
  std::lock_guard<std::mutex> hold(lock_);
  return take_finished();
}

std::vector<EvalResult> Evaluator::drain() {
  std::unique_lock<std::mutex> hold(lock_);
  idle_.wait(hold, [this] { return !running_ && !waiting_; });
  return take_finished();
}

double Evaluator::busy_s() const {
  std::lock_guard<std::mutex> hold(lock_);
  return busy_s_;
}

std::int64_t Evaluator::replaced() const {
  std::lock_guard<std::mutex> hold(lock_);
  return replaced_;
}

EvalResult Evaluator::evaluate_now(const EvalSnapshot& snapshot, std::span<const float> x) {
  {
    // After drain() the thread waits for the next submit: the objective and scratch are ours.
    std::lock_guard<std::mutex> hold(lock_);
    if (running_ || waiting_) throw std::logic_error("Evaluator::evaluate_now before drain()");
  }
  EvalResult r = evaluate_snapshot(objective_, scratch_, snapshot, x);
  r.started_s = r.finished_s = snapshot.time_s;
  std::lock_guard<std::mutex> hold(lock_);
  busy_s_ += r.compute_s;
  return r;
}

}  // namespace ringmaster
