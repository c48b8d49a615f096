// Rank 0: the Ringmaster server over MPI (SPEC §1, §2, §4, §7). A receive is posted for every worker
// at all times; completed receives are served in the order the gradients were sent, so no rank is
// favoured; each waiting moment sleeps instead of spinning.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "mpi/loops.hpp"
#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster::mpi {
namespace {

// Polling period of the server: starts short after activity and backs off while idle, up to a tenth
// of the mean time between arrivals (so polling adds ~5% of an inter-arrival time of latency, and its
// wake-ups scale with the traffic), within [50 µs, 2 ms] (500 wake-ups a second at most when idle).
constexpr double kMinPollS = 20e-6;
constexpr double kMaxPollS = 2e-3;
constexpr double kMinPollCapS = 50e-6;
// How long stopped workers get to answer before the job is aborted as hung.
constexpr double kShutdownDeadlineS = 10.0;

class ServerLoop {
 public:
  ServerLoop(const Config& config, Objective& objective, Recorder& recorder, int workers)
      : config_(config),
        objective_(objective),
        recorder_(recorder),
        workers_(workers),
        x0_(objective.layout().size()),
        backoff_(kMinPollS, kMaxPollS) {
    objective_.initial_point(x0_);
    server_ = std::make_unique<Server>(config_, objective_.layout(), x0_, workers_);
    const std::size_t floats = objective_.layout().size();
    for (int w = 0; w < workers_; ++w) {
      received_.emplace_back(floats);
      outgoing_.emplace_back(floats);
    }
    receive_requests_.assign(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    send_requests_.assign(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    clock_offset_.assign(static_cast<std::size_t>(workers_), 0.0);
    times_.assign(static_cast<std::size_t>(workers_), {});
    completed_.resize(static_cast<std::size_t>(workers_));
    statuses_.resize(static_cast<std::size_t>(workers_));
  }

  void run() {
    estimate_clock_offsets();
    start_wall_ = MPI_Wtime();
    last_arrival_ = start_wall_;
    evaluate();  // f(x0), at training time 0
    for (int w = 1; w <= workers_; ++w) post_receive(w);
    send_points(server_->start());
    while (!recorder_.should_stop(now(), *server_)) {
      if (now() >= recorder_.next_eval_s()) evaluate();
      recorder_.progress(MPI_Wtime() - start_wall_, now(), *server_);
      if (!serve_completed()) backoff_.sleep();
    }
    const double train_time = now();
    evaluate_at(train_time);  // final_loss is evaluated on the final parameters (SPEC §8)
    shutdown();
    const double wall = MPI_Wtime() - start_wall_;
    recorder_.finish(*server_, times_, wall, train_time, busy_s_ / std::max(train_time, 1e-9), eval_s_);
    spdlog::info("stopped at t={:.2f}s after {} updates; run directory {}", train_time, server_->k(),
                 recorder_.dir().string());
  }

 private:
  std::size_t at(int worker) const { return static_cast<std::size_t>(worker - 1); }

  // Training clock: wall seconds since the start, less the time spent evaluating (SPEC §7).
  double now() const { return MPI_Wtime() - start_wall_ - eval_s_; }

  void evaluate() { evaluate_at(now()); }
  void evaluate_at(double t) {
    const double begin = MPI_Wtime();
    recorder_.evaluate(t, *server_, objective_);
    eval_s_ += MPI_Wtime() - begin;
  }

  // Each worker's MPI_Wtime differs from ours by an offset (other nodes, other clocks): measure it by
  // a ping-pong, offset = midpoint of our send/receive times − the worker's time.
  void estimate_clock_offsets() {
    for (int w = 1; w <= workers_; ++w) {
      double ping = MPI_Wtime(), their_time = 0.0;
      MPI_Request request;
      check(MPI_Isend(&ping, 1, MPI_DOUBLE, w, kTagClock, MPI_COMM_WORLD, &request), "MPI_Isend");
      wait(request, nullptr, backoff_);
      check(MPI_Irecv(&their_time, 1, MPI_DOUBLE, w, kTagClock, MPI_COMM_WORLD, &request), "MPI_Irecv");
      wait(request, nullptr, backoff_);
      clock_offset_[at(w)] = 0.5 * (ping + MPI_Wtime()) - their_time;
    }
  }

  void post_receive(int worker) {
    GradientMessage& m = received_[at(worker)];
    check(MPI_Irecv(m.data(), m.bytes(), MPI_BYTE, worker, kTagGradient, MPI_COMM_WORLD,
                    &receive_requests_[at(worker)]),
          "MPI_Irecv");
  }

  // Sends the current (x, k), or a stop, to `worker`. Its previous message has normally long been
  // delivered; if not, wait for it without spinning (the buffer is reused, never reallocated).
  void send_point(int worker, Command command) {
    MPI_Request& request = send_requests_[at(worker)];
    if (request != MPI_REQUEST_NULL) wait(request, nullptr, backoff_);
    PointMessage& m = outgoing_[at(worker)];
    m.set_header({server_->k(), command, 0});
    int bytes = static_cast<int>(sizeof(PointHeader));
    if (command == kCommandWork) {
      std::copy(server_->x().begin(), server_->x().end(), m.payload().begin());
      bytes = m.bytes();
    }
    check(MPI_Isend(m.data(), bytes, MPI_BYTE, worker, kTagPoint, MPI_COMM_WORLD, &request), "MPI_Isend");
  }

  void send_points(const Outcome& outcome) {
    for (int worker : outcome.assign) send_point(worker, kCommandWork);
  }

  // Serves every gradient that has arrived, oldest send first. Returns false when none had.
  bool serve_completed() {
    int count = 0;
    check(MPI_Testsome(workers_, receive_requests_.data(), &count, completed_.data(), statuses_.data()),
          "MPI_Testsome");
    if (count == 0 || count == MPI_UNDEFINED) return false;
    const double begin = MPI_Wtime();
    // Testsome reports completions in index order; serve them in send order instead (corrected to
    // our clock), so that low ranks are not favoured when several arrive between two polls.
    std::sort(completed_.begin(), completed_.begin() + count, [&](int a, int b) {
      return sent_at(a + 1) < sent_at(b + 1);
    });
    for (int i = 0; i < count; ++i) serve(completed_[static_cast<std::size_t>(i)] + 1);
    busy_s_ += MPI_Wtime() - begin;
    // Mean time between arrivals (exponentially weighted over the last ~20 batches) sets the poll cap.
    const double interval = (begin - last_arrival_) / count;
    last_arrival_ = begin;
    mean_interval_ = mean_interval_ > 0.0 ? 0.95 * mean_interval_ + 0.05 * interval : interval;
    backoff_.set_max(std::clamp(0.1 * mean_interval_, kMinPollCapS, kMaxPollS));
    backoff_.reset();
    return true;
  }

  double sent_at(int worker) const { return received_[at(worker)].header().sent_at + clock_offset_[at(worker)]; }

  void serve(int worker) {
    const GradientMessage& m = received_[at(worker)];
    const GradientHeader h = m.header();
    const Outcome& outcome = server_->on_gradient(worker, h.version, m.payload());
    recorder_.arrival(now(), *server_, worker, h.version, outcome, h.loss, h.compute_s, h.injected_s);
    send_points(outcome);
    post_receive(worker);  // only now: the gradient buffer has been consumed
  }

  // Stops every worker, lets gradients already in flight land (so no send is left hanging), collects
  // each worker's time totals, and cancels the receives nobody will match.
  void shutdown() {
    for (int w = 1; w <= workers_; ++w) send_point(w, kCommandStop);
    std::vector<StatsMessage> stats(static_cast<std::size_t>(workers_));
    std::vector<MPI_Request> stats_requests(static_cast<std::size_t>(workers_), MPI_REQUEST_NULL);
    for (int w = 1; w <= workers_; ++w)
      check(MPI_Irecv(&stats[at(w)], sizeof(StatsMessage), MPI_BYTE, w, kTagStats, MPI_COMM_WORLD,
                      &stats_requests[at(w)]),
            "MPI_Irecv");
    const double deadline = MPI_Wtime() + kShutdownDeadlineS;
    int pending = workers_;
    backoff_.reset();
    while (pending > 0) {
      int landed = 0, count = 0;
      // Gradients still in flight complete here and are dropped: the run is over.
      check(MPI_Testsome(workers_, receive_requests_.data(), &landed, completed_.data(), statuses_.data()),
            "MPI_Testsome");
      check(MPI_Testsome(workers_, stats_requests.data(), &count, completed_.data(), statuses_.data()),
            "MPI_Testsome");
      if (count != MPI_UNDEFINED) pending -= count;
      if (pending == 0) break;
      if (MPI_Wtime() > deadline) {
        spdlog::error("{} worker(s) did not answer the stop within {:.0f} s; aborting the job", pending,
                      kShutdownDeadlineS);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
      backoff_.sleep();
    }
    for (MPI_Request& r : receive_requests_) {
      if (r == MPI_REQUEST_NULL) continue;
      check(MPI_Cancel(&r), "MPI_Cancel");
      wait(r, nullptr, backoff_);
    }
    for (MPI_Request& r : send_requests_)
      if (r != MPI_REQUEST_NULL) wait(r, nullptr, backoff_);
    for (int w = 1; w <= workers_; ++w) times_[at(w)] = {stats[at(w)].busy_s, stats[at(w)].injected_s};
  }

  const Config& config_;
  Objective& objective_;
  Recorder& recorder_;
  int workers_;
  std::vector<float> x0_;  // (layout.size) initial point
  std::unique_ptr<Server> server_;
  std::vector<GradientMessage> received_;    // per worker: its posted gradient receive
  std::vector<PointMessage> outgoing_;       // per worker: the last point sent to it
  std::vector<MPI_Request> receive_requests_, send_requests_;
  std::vector<double> clock_offset_;         // per worker: our clock − theirs
  std::vector<WorkerTimes> times_;
  std::vector<int> completed_;               // Testsome scratch
  std::vector<MPI_Status> statuses_;
  Backoff backoff_;
  double start_wall_ = 0.0;
  double eval_s_ = 0.0;  // wall seconds spent evaluating (not charged to training)
  double busy_s_ = 0.0;  // wall seconds spent serving arrivals
  double last_arrival_ = 0.0;   // MPI_Wtime of the last served batch
  double mean_interval_ = 0.0;  // smoothed seconds between arrivals
};

}  // namespace

void serve(const Config& config, Objective& objective, Recorder& recorder, int workers) {
  ServerLoop(config, objective, recorder, workers).run();
}

}  // namespace ringmaster::mpi
