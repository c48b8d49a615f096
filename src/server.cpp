#include "ringmaster/server.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "ringmaster/error.hpp"
#include "ringmaster/method.hpp"

namespace ringmaster {

std::string to_string(Action a) {
  switch (a) {
    case Action::accept: return "accept";
    case Action::discard: return "discard";
    case Action::superseded: return "superseded";
    case Action::interrupt: return "interrupt";
    case Action::rejected: return "rejected";
  }
  return "?";
}

Server::Server(const Config& config, const ParamLayout& layout, std::span<const float> x0, int workers,
               UpdateExecutorFactory updates)
    : workers_(workers),
      optimizer_(layout, config.lmo.options(), config.method.nesterov, config.lmo.scale),
      x_(x0.begin(), x0.end()),
      m_(x0.size(), 0.0f),
      version_(static_cast<std::size_t>(workers), 0),
      computing_(static_cast<std::size_t>(workers), 0),
      latest_(static_cast<std::size_t>(workers), 0),
      stale_((static_cast<std::size_t>(workers) + 63) / 64, 0),
      retired_(static_cast<std::size_t>(workers), 0),
      bad_in_a_row_(static_cast<std::size_t>(workers), 0),
      active_(workers),
      max_bad_(config.fault.max_bad),
      counters_(static_cast<std::size_t>(workers)),
      method_(make_method(config, x0.size(), workers)),
      updates_(std::move(updates)) {
  if (workers < 1) throw Error("run.workers: need at least one worker");
  if (x0.size() != layout.size()) throw Error("server: x0 does not match the parameter layout");
  outcome_.assign.reserve(static_cast<std::size_t>(workers));
  outcome_.interrupted.reserve(static_cast<std::size_t>(workers));
  executor_ = updates_(optimizer_, x_, k_);
}

Server::~Server() = default;

std::span<const float> Server::x() const {
  if (settled() != k_)
    throw std::logic_error("server: x read at version " + std::to_string(settled()) + " while k = " +
                           std::to_string(k_) + " (settle first)");
  return x_;
}

const Outcome& Server::start() {
  outcome_.clear();
  assign_all();
  return outcome_;
}

void Server::assign_all() {
  for (int i = 1; i <= workers_; ++i)
    if (!retired_[index(i)]) assign(i);
}

const Outcome& Server::on_gradient(int worker, std::int64_t version, std::span<const float> g, bool finite) {
  outcome_.clear();
  WorkerCounters& c = counters_[index(worker)];
  ++c.computed;
  outcome_.delay = k_ - version;  // docs/method.md §2: updates applied since the worker received its point
  // A gradient from a computation the server already told the worker to abandon (it crossed the
  // interrupt on the wire): the worker is already working on its new point (docs/method.md §4).
  if (!computing_[index(worker)] || version != version_[index(worker)]) {
    outcome_.action = Action::superseded;
    ++c.superseded;
    return outcome_;
  }
  // Nothing non-finite may reach x or the momentum: one NaN would poison every later step.
  if (!finite || !std::all_of(g.begin(), g.end(), [](float v) { return std::isfinite(v); })) return reject(worker);
  bad_in_a_row_[index(worker)] = 0;
  computing_[index(worker)] = 0;
  method_->on_gradient(*this, worker, g);
  if (outcome_.action == Action::accept) ++c.accepted;
  if (outcome_.action == Action::discard) ++c.discarded;
  return outcome_;
}

const Outcome& Server::on_malformed(int worker) {
  outcome_.clear();
  ++counters_[index(worker)].computed;
  outcome_.delay = k_ - version_[index(worker)];
  return reject(worker);
}

const Outcome& Server::reject(int worker) {
  outcome_.action = Action::rejected;
  ++counters_[index(worker)].rejected;
  computing_[index(worker)] = 0;
  if (++bad_in_a_row_[index(worker)] >= max_bad_) {
    retire_into_outcome(worker);
  } else {
    assign(worker);  // try again at the current point
  }
  return outcome_;
}

const Outcome& Server::retire(int worker) {
  outcome_.clear();
  outcome_.action = Action::rejected;
  retire_into_outcome(worker);
  return outcome_;
}

void Server::retire_into_outcome(int worker) {
  if (retired_[index(worker)]) return;
  retired_[index(worker)] = 1;
  computing_[index(worker)] = 0;
  --active_;
  outcome_.retired.push_back(worker);
  if (active_ > 0) method_->on_retire(*this, worker);
}

void Server::restore(std::int64_t k, std::span<const float> x, std::span<const float> m,
                     const std::vector<WorkerCounters>& counters, const MethodState& method) {
  if (x.size() != x_.size() || m.size() != m_.size() || counters.size() != counters_.size())
    throw Error("checkpoint: parameter or worker count does not match this run");
  executor_.reset();  // nothing queued may land on the restored x
  k_ = k;
  std::copy(x.begin(), x.end(), x_.begin());
  std::copy(m.begin(), m.end(), m_.begin());
  counters_ = counters;
  std::fill(version_.begin(), version_.end(), k);
  std::fill(computing_.begin(), computing_.end(), 0);
  assignments_.clear();  // nobody computes: every worker is assigned afresh (start())
  assignments_head_ = 0;
  method_->restore(method);
  executor_ = updates_(optimizer_, x_, k_);
}

void Server::lmo_step(std::span<const float> g, double stepsize, double alpha) {
  executor_->lmo_step(m_, g, stepsize, alpha);
  ++k_;
  outcome_.updated = true;
}

void Server::sgd_step(std::span<const float> g, double stepsize) {
  settle(k_);  // x − γ g needs x itself: nothing to overlap
  for (const Block& b : layout().blocks()) {
    // x ← x − γ·multiplier·g (multiplier: the block role's, docs/method.md §6)
    const float gamma = static_cast<float>(stepsize * b.multiplier);
    for (std::size_t i = b.offset; i < b.offset + b.size(); ++i) x_[i] -= gamma * g[i];
  }
  executor_->advance();
  ++k_;
  outcome_.updated = true;
}

void Server::assign(int worker) {
  version_[index(worker)] = k_;
  computing_[index(worker)] = 1;
  outcome_.assign.push_back(worker);
  if (assignments_.size() >= 2 * static_cast<std::size_t>(workers_) + 64) compact_assignments();
  latest_[index(worker)] = assigned_;
  assignments_.push_back({worker, k_, assigned_++});
}

void Server::compact_assignments() {
  // At most one entry per worker is in force afterwards: at least n + 64 assignments until the next.
  const auto passed = assignments_.begin() + static_cast<std::ptrdiff_t>(assignments_head_);
  assignments_.erase(std::remove_if(passed, assignments_.end(), [this](const Assignment& a) { return !in_force(a); }),
                     assignments_.end());
  assignments_.erase(assignments_.begin(), passed);
  assignments_head_ = 0;
}

void Server::interrupt(int worker) {
  outcome_.interrupted.push_back({worker, version_[index(worker)]});
  ++counters_[index(worker)].interrupted;
  assign(worker);
}

void Server::interrupt_stale(std::int64_t threshold) {
  // A computing worker's assignment in force is in the log, so the stale ones are in the prefix of
  // versions ≤ k − threshold; entries superseded or finished since are passed over. With thousands of
  // workers an update visits the ones that became stale, not all of them.
  bool any = false;
  for (; assignments_head_ < assignments_.size(); ++assignments_head_) {
    const Assignment& a = assignments_[assignments_head_];
    if (k_ - a.version < threshold) break;
    if (!in_force(a)) continue;
    stale_[index(a.worker) / 64] |= std::uint64_t{1} << (index(a.worker) % 64);
    any = true;
  }
  if (!any) return;
  // In ascending worker order, as a scan over the workers gives (events.csv rows, the engines' order).
  for (std::size_t word = 0; word < stale_.size(); ++word)
    for (std::uint64_t bits = std::exchange(stale_[word], 0); bits != 0; bits &= bits - 1)
      interrupt(static_cast<int>(word * 64 + static_cast<std::size_t>(std::countr_zero(bits))) + 1);
}

void Server::idle(int worker) { computing_[index(worker)] = 0; }

}  // namespace ringmaster
