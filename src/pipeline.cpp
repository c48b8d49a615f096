#include "ringmaster/pipeline.hpp"

#include <algorithm>
#include <stdexcept>

namespace ringmaster {

namespace {

// One step of a spin-wait: tells the core we are spinning (lets its sibling hyperthread run, saves power).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until ready() or kSpin has passed; returns ready().
template <class Ready>
bool spin_until(Ready ready, std::chrono::microseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    cpu_relax();
    if (i % 64 == 63 && std::chrono::steady_clock::now() >= deadline) return ready();
  }
}

}  // namespace

UpdatePipeline::UpdatePipeline(const LmoOptimizer& optimizer, std::span<float> x, std::int64_t version, int lanes,
                               OnApplied on_applied)
    : optimizer_(optimizer),
      x_(x),
      on_applied_(std::move(on_applied)),
      // Two slots per lane: every lane can be computing one update while the owner queues the next.
      slots_(2 * static_cast<std::size_t>(std::max(lanes, 1))),
      applied_(version),
      claimed_(version),
      submitted_(version) {
  if (lanes < 2) throw std::invalid_argument("UpdatePipeline: needs at least 2 lanes");
  for (Slot& s : slots_) {
    s.u.assign(optimizer.layout().size(), 0.0f);
    s.d.assign(optimizer.layout().size(), 0.0f);
  }
  for (int lane = 0; lane < lanes; ++lane) workspaces_.push_back(optimizer.make_workspaces());
  for (int lane = 1; lane < lanes; ++lane)
    helpers_.emplace_back([this, lane](std::stop_token stop) { helper(stop, lane); });
}

UpdatePipeline::~UpdatePipeline() {
  for (std::jthread& h : helpers_) h.request_stop();  // wakes sleepers: work_ waits on their stop tokens
  helpers_.clear();                                    // joins
}

bool UpdatePipeline::claim(std::int64_t& version) {
  std::int64_t c = claimed_.load();
  while (c < submitted_.load()) {  // seq_cst: reading submitted_ = v makes slot v's input visible
    if (claimed_.compare_exchange_weak(c, c + 1)) {
      version = c + 1;
      return true;
    }
  }
  return false;
}

void UpdatePipeline::compute(std::int64_t version, Workspaces& workspaces) {
  Slot& s = slot(version);
  try {
    optimizer_.direction(s.u, s.d, workspaces);
  } catch (...) {
    s.error = std::current_exception();  // rethrown by the owner when it applies this update
  }
  s.done.store(true);
  if (owner_sleeping_.load()) {
    std::lock_guard lock(mutex_);
    done_.notify_one();
  }
}

void UpdatePipeline::helper(std::stop_token stop, int lane) {
  Workspaces& workspaces = workspaces_[static_cast<std::size_t>(lane)];
  const auto work_queued = [this] { return claimed_.load() < submitted_.load(); };
  while (!stop.stop_requested()) {
    std::int64_t version = 0;
    if (claim(version)) {
      compute(version, workspaces);
      continue;
    }
    if (spin_until([&] { return work_queued() || stop.stop_requested(); }, kSpin)) continue;
    std::unique_lock lock(mutex_);
    sleeping_helpers_.fetch_add(1);
    work_.wait(lock, stop, work_queued);
    sleeping_helpers_.fetch_sub(1);
  }
}

std::span<float> UpdatePipeline::input() {
  // The slot of version submitted + 1 is free once the update that used it last has been applied.
  const std::int64_t next = submitted() + 1;
  if (next - applied_ > std::ssize(slots_)) settle(next - std::ssize(slots_));
  return slot(next).u;
}

void UpdatePipeline::submit(double stepsize) {
  const std::int64_t next = submitted() + 1;
  Slot& s = slot(next);
  s.stepsize = stepsize;
  s.error = nullptr;
  s.done.store(false);
  submitted_.store(next);  // publishes the slot's input to the lanes
  if (sleeping_helpers_.load() > 0) {
    std::lock_guard lock(mutex_);
    work_.notify_one();
  }
}

void UpdatePipeline::wait_done(std::int64_t version) {
  Slot& s = slot(version);
  while (!s.done.load()) {
    // Compute a queued update here only if it is the one we need, or if the helpers will still have
    // work when they finish theirs: taking the helpers' next update would leave them idle while we,
    // busy with it, cannot produce the gradients that make more work.
    std::int64_t other = 0;
    const bool mine = claimed_.load() < version || submitted() - claimed_.load() > std::ssize(helpers_);
    if (mine && claim(other)) {
      compute(other, workspaces_[0]);
      continue;
    }
    if (spin_until([&] { return s.done.load(); }, kSpin)) return;
    std::unique_lock lock(mutex_);
    owner_sleeping_.store(true);
    done_.wait(lock, [&] { return s.done.load(); });
    owner_sleeping_.store(false);
  }
}

void UpdatePipeline::settle(std::int64_t version) {
  if (version > submitted()) throw std::logic_error("UpdatePipeline::settle: version not submitted yet");
  while (applied_ < version) {
    const std::int64_t next = applied_ + 1;
    wait_done(next);
    Slot& s = slot(next);
    if (s.error) std::rethrow_exception(s.error);
    optimizer_.apply(x_, s.d, s.stepsize);
    applied_ = next;
    if (on_applied_) on_applied_(applied_, x_);
  }
}

void UpdatePipeline::advance() {
  if (applied_ != submitted()) throw std::logic_error("UpdatePipeline::advance: updates are queued");
  ++applied_;
  claimed_.store(applied_);
  submitted_.store(applied_);
  if (on_applied_) on_applied_(applied_, x_);
}

namespace {

class PipelinedUpdates final : public UpdateExecutor {
 public:
  PipelinedUpdates(const LmoOptimizer& optimizer, std::span<float> x, std::int64_t version, int lanes,
                   UpdatePipeline::OnApplied on_applied)
      : optimizer_(optimizer), pipeline_(optimizer, x, version, lanes, std::move(on_applied)) {}

  // The momentum now (it depends only on the gradients); the LMO and x later, in order.
  void lmo_step(std::span<float> m, std::span<const float> g, double stepsize, double alpha) override {
    optimizer_.momentum(m, g, alpha, pipeline_.input());
    pipeline_.submit(stepsize);
  }
  void settle(std::int64_t version) override { pipeline_.settle(version); }
  void advance() override { pipeline_.advance(); }
  std::int64_t applied() const override { return pipeline_.applied(); }

 private:
  const LmoOptimizer& optimizer_;
  UpdatePipeline pipeline_;
};

}  // namespace

UpdateExecutorFactory pipelined_updates(int lanes, UpdatePipeline::OnApplied on_applied) {
  if (lanes < 2) return immediate_updates();
  return [lanes, on_applied = std::move(on_applied)](LmoOptimizer& optimizer, std::span<float> x,
                                                      std::int64_t version) -> std::unique_ptr<UpdateExecutor> {
    return std::make_unique<PipelinedUpdates>(optimizer, x, version, lanes, on_applied);
  };
}

}  // namespace ringmaster
