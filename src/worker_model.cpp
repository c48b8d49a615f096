#include "ringmaster/worker_model.hpp"

#include <algorithm>

namespace ringmaster {

WorkerModel::WorkerModel(const Config& config, int worker, std::uint32_t epoch, std::size_t training_examples)
    : worker_(worker),
      delays_(config.heterogeneity, worker, config.run.workers, config.run.seed, epoch),
      seed_(config.run.seed),
      epoch_(epoch),
      training_examples_(training_examples),
      fault_(std::find(config.fault.inject_workers.begin(), config.fault.inject_workers.end(),
                       static_cast<double>(worker)) != config.fault.inject_workers.end()
                 ? config.fault.inject
                 : Fault::none),
      good_first_(config.fault.inject_after) {}

Fault WorkerModel::next_fault() {
  if (fault_ == Fault::none) return Fault::none;
  return delivered_++ >= good_first_ ? fault_ : Fault::none;
}

}  // namespace ringmaster
