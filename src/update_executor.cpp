#include "ringmaster/update_executor.hpp"

namespace ringmaster {
namespace {

class ImmediateUpdates final : public UpdateExecutor {
 public:
  ImmediateUpdates(LmoOptimizer& optimizer, std::span<float> x, std::int64_t version)
      : optimizer_(optimizer), x_(x), applied_(version) {}

  void lmo_step(std::span<float> m, std::span<const float> g, double stepsize, double alpha) override {
    optimizer_.step(x_, m, g, stepsize, alpha);
    ++applied_;
  }
  void settle(std::int64_t) override {}  // nothing is ever queued
  void advance() override { ++applied_; }
  std::int64_t applied() const override { return applied_; }

 private:
  LmoOptimizer& optimizer_;
  std::span<float> x_;  // (layout.size) the server's parameters
  std::int64_t applied_;
};

}  // namespace

UpdateExecutorFactory immediate_updates() {
  return [](LmoOptimizer& optimizer, std::span<float> x, std::int64_t version) -> std::unique_ptr<UpdateExecutor> {
    return std::make_unique<ImmediateUpdates>(optimizer, x, version);
  };
}

}  // namespace ringmaster
