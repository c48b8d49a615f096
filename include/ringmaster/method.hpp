// Server policies (docs/method.md §4). A method is a small class: given the server state and one arrival it
// decides accept / discard, applies the update through the Server's primitives, and says who gets
// the current point next. Pure: no MPI, no clock, no I/O, so both engines and the unit tests share it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringmaster/config.hpp"

namespace ringmaster {

class Server;

// What a method carries between arrivals besides the server state (checkpoints): the running sum of a
// round's gradients (rennala, sync) and how many it holds. Empty for the stateless methods.
struct MethodState {
  std::vector<float> sum;  // (layout.size) or empty
  std::int64_t count = 0;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual std::string name() const = 0;

  // A gradient from `worker`, computed at the version it was last handed (the Server has already
  // filtered superseded arrivals and set outcome().delay). Fill server.outcome().action.
  virtual void on_gradient(Server& server, int worker, std::span<const float> g) = 0;

  // Delay threshold in force for the next arrival (thresholded methods), for logging and tests.
  virtual std::int64_t threshold(const Server&) const { return 0; }

  // A worker left for good (retired after bad gradients, or silent too long): a method that waits for
  // every worker (sync) must not wait for this one.
  virtual void on_retire(Server&, int /*worker*/) {}

  virtual MethodState state() const { return {}; }
  virtual void restore(const MethodState&) {}
};

// The method registry: one row per method of docs/method.md §4, its run.method name and how it is made
// from [method] (`params` parameters, `workers` workers). load_config checks run.method against it, and
// its "unknown value" message lists it: adding a method is a class and a row in methods.cpp.
struct MethodRow {
  std::string_view name;
  std::unique_ptr<Method> (*make)(const MethodConfig& config, std::size_t params, int workers);
};
std::span<const MethodRow> methods();
std::vector<std::string_view> method_names();

// The method named by config.run.method, with its parameters from config.method.
std::unique_ptr<Method> make_method(const Config& config, std::size_t params, int workers);

// ringmaster-pa schedule (docs/method.md §4): for step k, γ_k = η/(k+1)^{3/4}, α_0 = 1, α_k = 1/√k,
// R_k = max(1, ⌊1/α_k⌋).
struct PaSchedule {
  double stepsize;
  double alpha;
  std::int64_t threshold;
};
PaSchedule pa_schedule(double eta, std::int64_t k);

}  // namespace ringmaster
