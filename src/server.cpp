#include "ringmaster/server.hpp"

#include <algorithm>

#include "ringmaster/error.hpp"
#include "ringmaster/method.hpp"

namespace ringmaster {

std::string to_string(Action a) {
  switch (a) {
    case Action::accept: return "accept";
    case Action::discard: return "discard";
    case Action::superseded: return "superseded";
    case Action::interrupt: return "interrupt";
  }
  return "?";
}

Server::Server(const Config& config, const ParamLayout& layout, std::span<const float> x0, int workers)
    : workers_(workers),
      optimizer_(layout, config.lmo.options(), config.method.nesterov, config.lmo.scale),
      x_(x0.begin(), x0.end()),
      m_(x0.size(), 0.0f),
      version_(static_cast<std::size_t>(workers), 0),
      computing_(static_cast<std::size_t>(workers), 0),
      counters_(static_cast<std::size_t>(workers)),
      method_(make_method(config, x0.size(), workers)) {
  if (workers < 1) throw Error("run.workers: need at least one worker");
  if (x0.size() != layout.size()) throw Error("server: x0 does not match the parameter layout");
  outcome_.assign.reserve(static_cast<std::size_t>(workers));
  outcome_.interrupted.reserve(static_cast<std::size_t>(workers));
}

Server::~Server() = default;

const Outcome& Server::start() {
  outcome_.clear();
  for (int i = 1; i <= workers_; ++i) assign(i);
  return outcome_;
}

const Outcome& Server::on_gradient(int worker, std::int64_t version, std::span<const float> g) {
  outcome_.clear();
  WorkerCounters& c = counters_[index(worker)];
  ++c.computed;
  outcome_.delay = k_ - version;  // SPEC §2: updates applied since the worker received its point
  // A gradient from a computation the server already told the worker to abandon (it crossed the
  // interrupt on the wire): the worker is already working on its new point (SPEC §4).
  if (!computing_[index(worker)] || version != version_[index(worker)]) {
    outcome_.action = Action::superseded;
    ++c.superseded;
    return outcome_;
  }
  computing_[index(worker)] = 0;
  method_->on_gradient(*this, worker, g);
  if (outcome_.action == Action::accept) ++c.accepted;
  if (outcome_.action == Action::discard) ++c.discarded;
  return outcome_;
}

void Server::lmo_step(std::span<const float> g, double stepsize, double alpha) {
  optimizer_.step(x_, m_, g, stepsize, alpha);
  ++k_;
  outcome_.updated = true;
}

void Server::sgd_step(std::span<const float> g, double stepsize) {
  const float gamma = static_cast<float>(stepsize);
  for (std::size_t i = 0; i < x_.size(); ++i) x_[i] -= gamma * g[i];
  ++k_;
  outcome_.updated = true;
}

void Server::assign(int worker) {
  version_[index(worker)] = k_;
  computing_[index(worker)] = 1;
  outcome_.assign.push_back(worker);
}

void Server::interrupt(int worker) {
  outcome_.interrupted.push_back({worker, version_[index(worker)]});
  ++counters_[index(worker)].interrupted;
  assign(worker);
}

void Server::interrupt_stale(std::int64_t threshold) {
  for (int j = 1; j <= workers_; ++j)
    if (computing_[index(j)] && k_ - version_[index(j)] >= threshold) interrupt(j);
}

void Server::idle(int worker) { computing_[index(worker)] = 0; }

}  // namespace ringmaster
