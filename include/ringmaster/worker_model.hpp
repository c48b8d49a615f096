// What one worker does, whichever engine runs it (docs/method.md §4 "Faults", §5, §6): the samples it
// draws (its SampleStream), the delay it injects after each gradient (its DelayModel stream), and what
// it does wrong when fault injection names it (config [fault]). The MPI worker loop holds one; the
// simulator holds one per worker. Both engines call it in the same order for every computation they
// start — the sample (through the objective), then next_delay, then, for a gradient about to be
// delivered, next_fault — so with the same seed the k-th draw of worker i is the same in both.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ringmaster/config.hpp"
#include "ringmaster/heterogeneity.hpp"
#include "ringmaster/sampler.hpp"

namespace ringmaster {


class WorkerModel {
 public:
  // Worker `worker` (1-based) of config.run.workers; `epoch` > 0 (a resumed run) gives fresh streams.
  WorkerModel(const Config& config, int worker, std::uint32_t epoch, std::size_t training_examples);

  int worker() const { return worker_; }
  // Made at the first gradient: its streams are seeded by (seed, worker, epoch) alone, so when does not
  // matter, and most of 6,174 simulated workers, interrupted before they deliver, never need one.
  SampleStream& samples() {
    if (!samples_) samples_ = std::make_unique<SampleStream>(seed_, worker_, epoch_, training_examples_);
    return *samples_;
  }
  // Injected seconds after the computation just started, whose compute took `compute_s` (docs/method.md
  // §5). Drawn for every started computation, interrupted or not.
  double next_delay(double compute_s) { return delays_.next_delay(compute_s); }
  // The fault to inject into the gradient about to be delivered: Fault::none, except for the workers of
  // fault.inject_workers after fault.inject_after good gradients. Counts the gradient.
  Fault next_fault();

 private:
  int worker_;
  DelayModel delays_;
  std::uint64_t seed_;
  std::uint32_t epoch_;
  std::size_t training_examples_;
  std::unique_ptr<SampleStream> samples_;  // null until samples() is first called
  Fault fault_;               // fault.inject if this worker is in fault.inject_workers, else none
  std::int64_t good_first_;   // fault.inject_after
  std::int64_t delivered_ = 0;
};

}  // namespace ringmaster
