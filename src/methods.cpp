// The methods of docs/method.md §4, each a small policy over the Server's primitives.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/method.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster {

PaSchedule pa_schedule(double eta, std::int64_t k) {
  PaSchedule s{};
  s.stepsize = eta / std::pow(static_cast<double>(k + 1), 0.75);
  s.alpha = k == 0 ? 1.0 : 1.0 / std::sqrt(static_cast<double>(k));
  // R_k = max(1, ⌊1/α_k⌋) = max(1, ⌊√k⌋), in integers so that perfect squares are exact.
  auto r = static_cast<std::int64_t>(std::sqrt(static_cast<double>(k)));
  while (r * r > k) --r;
  while ((r + 1) * (r + 1) <= k) ++r;
  s.threshold = std::max<std::int64_t>(1, r);
  return s;
}

namespace {

enum class Update { lmo, sgd };

// ringmaster, ringmaster-pa, ringmaster-sgd: accept iff δ < R (docs/method.md §4).
class Ringmaster final : public Method {
 public:
  Ringmaster(std::string name, const MethodConfig& c, Update update, bool parameter_agnostic)
      : name_(std::move(name)),
        stepsize_(c.stepsize),
        alpha_(1.0 - c.momentum),
        threshold_(c.threshold),
        interrupt_(c.stale == Stale::interrupt),
        update_(update),
        parameter_agnostic_(parameter_agnostic) {}

  std::string name() const override { return name_; }

  std::int64_t threshold(const Server& s) const override { return schedule(s.k()).threshold; }

  void on_gradient(Server& s, int worker, std::span<const float> g) override {
    Outcome& out = s.outcome();
    const PaSchedule step = schedule(s.k());  // in force since the previous update
    if (out.delay < step.threshold) {
      out.action = Action::accept;
      if (update_ == Update::sgd)
        s.sgd_step(g, step.stepsize);
      else
        s.lmo_step(g, step.stepsize, step.alpha);
    } else {
      out.action = Action::discard;
    }
    s.assign(worker);  // the worker gets the current (x, k) either way
    if (interrupt_ && out.updated) s.interrupt_stale(schedule(s.k()).threshold);
  }

 private:
  PaSchedule schedule(std::int64_t k) const {
    if (parameter_agnostic_) return pa_schedule(stepsize_, k);
    return {stepsize_, alpha_, threshold_};
  }

  std::string name_;
  double stepsize_, alpha_;
  std::int64_t threshold_;
  bool interrupt_;
  Update update_;
  bool parameter_agnostic_;
};

// async, async-delay-adaptive: every gradient is applied (docs/method.md §4).
class Async final : public Method {
 public:
  Async(std::string name, const MethodConfig& c, int workers, bool delay_adaptive)
      : name_(std::move(name)),
        stepsize_(c.stepsize),
        alpha_(1.0 - c.momentum),
        workers_(workers),
        delay_adaptive_(delay_adaptive) {}

  std::string name() const override { return name_; }

  void on_gradient(Server& s, int worker, std::span<const float> g) override {
    Outcome& out = s.outcome();
    out.action = Action::accept;
    const double n = workers_;
    // γ · n / max(n, δ): full step while the delay is within n, shrinking beyond it.
    const double gamma =
        delay_adaptive_ ? stepsize_ * n / std::max(n, static_cast<double>(out.delay)) : stepsize_;
    s.lmo_step(g, gamma, alpha_);
    s.assign(worker);
  }

 private:
  std::string name_;
  double stepsize_, alpha_;
  int workers_;
  bool delay_adaptive_;
};

// Averages gradients into one LMO step; shared by rennala and sync.
class Averager {
 public:
  explicit Averager(std::size_t params) : sum_(params, 0.0f) {}
  void add(std::span<const float> g) {
    for (std::size_t i = 0; i < sum_.size(); ++i) sum_[i] += g[i];
    ++count_;
  }
  int count() const { return count_; }
  MethodState state() const { return {sum_, count_}; }
  void restore(const MethodState& state) {
    if (state.count == 0) return;  // a checkpoint taken between rounds
    if (state.sum.size() != sum_.size()) throw Error("checkpoint: the method's round sum has the wrong size");
    sum_ = state.sum;
    count_ = static_cast<int>(state.count);
  }
  // Applies one LMO step with the mean of what was added, then starts a new round.
  void step(Server& s, double stepsize, double alpha) {
    const float inv = 1.0f / static_cast<float>(count_);
    for (float& v : sum_) v *= inv;
    s.lmo_step(sum_, stepsize, alpha);
    std::fill(sum_.begin(), sum_.end(), 0.0f);
    count_ = 0;
  }

 private:
  std::vector<float> sum_;  // (params) running sum of this round's gradients
  int count_ = 0;
};

// rennala: the first B gradients computed at the current x are averaged; then every in-flight
// computation is abandoned and all workers restart at the new x (docs/method.md §4).
class Rennala final : public Method {
 public:
  Rennala(const MethodConfig& c, std::size_t params, int workers)
      : stepsize_(c.stepsize), alpha_(1.0 - c.momentum), batch_(c.batch), workers_(workers), round_(params) {}

  std::string name() const override { return "rennala"; }
  MethodState state() const override { return round_.state(); }
  void restore(const MethodState& state) override { round_.restore(state); }

  void on_gradient(Server& s, int worker, std::span<const float> g) override {
    s.outcome().action = Action::accept;
    round_.add(g);
    if (round_.count() == batch_) {
      round_.step(s, stepsize_, alpha_);
      for (int j = 1; j <= workers_; ++j) {
        if (s.retired(j)) continue;
        if (j == worker || !s.computing(j))
          s.assign(j);
        else
          s.interrupt(j);
      }
    } else {
      s.assign(worker);  // a fast worker may contribute several gradients at the same point
    }
  }

 private:
  double stepsize_, alpha_;
  int batch_, workers_;
  Averager round_;
};

// sync: every worker computes one gradient at x; the server waits for all n, averages, steps.
class Sync final : public Method {
 public:
  Sync(const MethodConfig& c, std::size_t params, int workers)
      : stepsize_(c.stepsize), alpha_(1.0 - c.momentum), workers_(workers), round_(params) {}

  std::string name() const override { return "sync"; }

  MethodState state() const override { return round_.state(); }
  void restore(const MethodState& state) override { round_.restore(state); }

  void on_gradient(Server& s, int worker, std::span<const float> g) override {
    s.outcome().action = Action::accept;
    round_.add(g);
    s.idle(worker);
    finish_round_if_complete(s);
  }

  // The round no longer waits for a worker that left (fault.worker_timeout_s, fault.max_bad).
  void on_retire(Server& s, int) override { finish_round_if_complete(s); }

 private:
  void finish_round_if_complete(Server& s) {
    // Complete when no active worker is still computing: each has delivered its one gradient (a
    // retired worker's gradient, if it came before it left, stays in the average).
    if (round_.count() == 0) return;
    for (int j = 1; j <= workers_; ++j)
      if (s.computing(j)) return;
    round_.step(s, stepsize_, alpha_);
    s.assign_all();
  }

  double stepsize_, alpha_;
  int workers_;
  Averager round_;
};

// The registry (method.hpp): one row per method of docs/method.md §4.
const std::array<MethodRow, 7> kMethods = {{
    {"ringmaster", [](const MethodConfig& c, std::size_t, int) -> std::unique_ptr<Method> {
       return std::make_unique<Ringmaster>("ringmaster", c, Update::lmo, false);
     }},
    {"ringmaster-pa", [](const MethodConfig& c, std::size_t, int) -> std::unique_ptr<Method> {
       return std::make_unique<Ringmaster>("ringmaster-pa", c, Update::lmo, true);
     }},
    {"ringmaster-sgd", [](const MethodConfig& c, std::size_t, int) -> std::unique_ptr<Method> {
       return std::make_unique<Ringmaster>("ringmaster-sgd", c, Update::sgd, false);
     }},
    {"async", [](const MethodConfig& c, std::size_t, int workers) -> std::unique_ptr<Method> {
       return std::make_unique<Async>("async", c, workers, false);
     }},
    {"async-delay-adaptive", [](const MethodConfig& c, std::size_t, int workers) -> std::unique_ptr<Method> {
       return std::make_unique<Async>("async-delay-adaptive", c, workers, true);
     }},
    {"rennala", [](const MethodConfig& c, std::size_t params, int workers) -> std::unique_ptr<Method> {
       return std::make_unique<Rennala>(c, params, workers);
     }},
    {"sync", [](const MethodConfig& c, std::size_t params, int workers) -> std::unique_ptr<Method> {
       return std::make_unique<Sync>(c, params, workers);
     }},
}};

}  // namespace

std::span<const MethodRow> methods() { return kMethods; }

std::vector<std::string_view> method_names() {
  std::vector<std::string_view> names;
  for (const MethodRow& row : kMethods) names.push_back(row.name);
  return names;
}

std::unique_ptr<Method> make_method(const Config& config, std::size_t params, int workers) {
  for (const MethodRow& row : kMethods)
    if (row.name == config.run.method) return row.make(config.method, params, workers);
  throw Error("run.method: " + unknown_value(config.run.method, method_names()));
}

}  // namespace ringmaster
