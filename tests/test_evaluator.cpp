// Evaluation off the server's critical path and the eval.csv columns (docs/method.md §7, §8): the
// Evaluator's order, bounded queue, drain and error path; the Recorder's optional columns.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "ringmaster/evaluator.hpp"
#include "ringmaster/optimizer.hpp"
#include "ringmaster/recorder.hpp"
#include "ringmaster/run_dir.hpp"
#include "ringmaster/server.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

// A fake learning objective (a few lines): x is one 1×2 l2 block; the loss is x[0], the accuracy
// x[1], the full gradient x itself. evaluate() waits at a gate the test opens, and throws at x[0] < 0.
class GatedObjective : public Objective {
 public:
  GatedObjective() { layout_.add("v", 1, 2, Geometry::l2); }
  const ParamLayout& layout() const override { return layout_; }
  void initial_point(std::span<float> x) const override { std::fill(x.begin(), x.end(), 0.0f); }
  std::size_t training_examples() const override { return 100; }
  bool reports_accuracy() const override { return true; }
  void draw_sample(std::span<float>, SampleStream&) override {}
  double gradient_at_sample(std::span<const float>, std::span<float>) override { return 0.0; }
  void full_gradient(std::span<const float> x, std::span<float> g) override { std::copy(x.begin(), x.end(), g.begin()); }
  Evaluation evaluate(std::span<const float> x) override {
    std::unique_lock<std::mutex> hold(lock);
    ++started;
    changed.notify_all();
    changed.wait(hold, [&] { return open; });
    if (x[0] < 0.0f) throw std::runtime_error("evaluation failed at x[0] = " + std::to_string(x[0]));
    return {x[0], x[1]};
  }
  // Lets every evaluation through from now on.
  void open_gate() { std::lock_guard<std::mutex> hold(lock); open = true; changed.notify_all(); }
  // Waits until the n-th evaluation has started on the evaluator thread.
  void wait_started(int n) {
    std::unique_lock<std::mutex> hold(lock);
    changed.wait(hold, [&] { return started >= n; });
  }

  std::mutex lock;
  std::condition_variable changed;
  int started = 0;
  bool open = false;

 private:
  ParamLayout layout_;
};

std::vector<float> point(float loss, float accuracy = 0.5f) { return {loss, accuracy}; }

TEST(Evaluator, ResultsArriveInSubmissionOrderWithoutWaiting) {
  GatedObjective objective;
  Evaluator evaluator(objective, LmoOptions{});
  for (int k = 0; k < 4; ++k) {
    evaluator.submit({0.5 * k, k, {}}, point(10.0f - static_cast<float>(k)));
    objective.wait_started(k + 1);  // picked up: the next submit does not replace it
    if (k == 0) {
      // The evaluation is held at the gate: poll returns with nothing, without waiting for it. A poll that
      // waited would never return, since the gate opens only after it; a watchdog opens the gate after a
      // minute (a hang guard, not a speed limit: a non-waiting poll returns in microseconds, and even a
      // loaded machine schedules it within seconds), and the test then fails instead of hanging.
      bool polled = false;  // guarded by objective.lock
      bool forced = false;
      std::thread watchdog([&] {
        std::unique_lock<std::mutex> hold(objective.lock);
        if (!objective.changed.wait_for(hold, std::chrono::seconds(60), [&] { return polled; })) {
          forced = true;
          objective.open = true;
          objective.changed.notify_all();
        }
      });
      const bool nothing = evaluator.poll().empty();
      {
        std::lock_guard<std::mutex> hold(objective.lock);
        polled = true;
      }
      objective.changed.notify_all();
      watchdog.join();
      EXPECT_FALSE(forced) << "poll waited for the evaluation held at the gate";
      EXPECT_TRUE(nothing);
      objective.open_gate();
    }
  }
  std::vector<EvalResult> results = evaluator.poll();
  for (EvalResult& r : evaluator.drain()) results.push_back(r);
  ASSERT_EQ(results.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    const EvalResult& r = results[static_cast<std::size_t>(k)];
    EXPECT_EQ(r.snapshot.k, k);
    EXPECT_DOUBLE_EQ(r.evaluation.loss, 10.0 - k);
    EXPECT_DOUBLE_EQ(*r.evaluation.accuracy, 0.5);
    // The l2 dual norm of the gradient x: its Frobenius norm.
    EXPECT_NEAR(r.grad_dual_norm, std::hypot(10.0 - k, 0.5), 1e-5);
    // The window starts no earlier than the snapshot and ends after it started.
    EXPECT_GE(r.started_s, r.snapshot.time_s);
    EXPECT_GE(r.finished_s, r.started_s);
  }
  EXPECT_EQ(evaluator.replaced(), 0);
  EXPECT_TRUE(evaluator.drain().empty());
}

// One evaluation runs, one snapshot waits; a newer snapshot replaces the waiting one and takes over its
// train-loss window, so no accepted minibatch is lost from train_loss and memory stays bounded.
TEST(Evaluator, ANewerSnapshotReplacesTheWaitingOne) {
  GatedObjective objective;
  Evaluator evaluator(objective, LmoOptions{});
  auto window = [](double loss) {
    TrainLossWindow w;
    w.add(loss);
    return w;
  };
  evaluator.submit({0.0, 0, window(1.0)}, point(5.0f));
  objective.wait_started(1);
  evaluator.submit({1.0, 1, window(2.0)}, point(4.0f));  // waits
  evaluator.submit({2.0, 2, window(3.0)}, point(3.0f));  // replaces k = 1
  evaluator.submit({3.0, 3, window(4.0)}, point(2.0f));  // replaces k = 2
  EXPECT_EQ(evaluator.replaced(), 2);
  objective.open_gate();
  const std::vector<EvalResult> results = evaluator.drain();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].snapshot.k, 0);
  EXPECT_EQ(results[1].snapshot.k, 3);
  EXPECT_DOUBLE_EQ(results[1].evaluation.loss, 2.0);
  EXPECT_EQ(results[1].snapshot.train.count, 3);
  EXPECT_DOUBLE_EQ(*results[1].snapshot.train.mean(), 3.0);  // (2 + 3 + 4) / 3
  EXPECT_EQ(objective.started, 2);
}

TEST(Evaluator, AnExceptionOnTheThreadIsRethrownOnTheCaller) {
  GatedObjective objective;
  objective.open_gate();
  Evaluator evaluator(objective, LmoOptions{});
  evaluator.submit({0.0, 0, {}}, point(1.0f));
  EXPECT_EQ(evaluator.drain().size(), 1u);
  evaluator.submit({1.0, 1, {}}, point(-1.0f));
  try {
    evaluator.drain();
    FAIL() << "drain() did not rethrow";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("evaluation failed"), std::string::npos) << e.what();
  }
  // Reported once; the evaluator goes on.
  EXPECT_TRUE(evaluator.poll().empty());
  evaluator.submit({2.0, 2, {}}, point(7.0f));
  const auto results = evaluator.drain();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_DOUBLE_EQ(results[0].evaluation.loss, 7.0);
  // After drain() the caller may evaluate synchronously (the final evaluation).
  const EvalResult last = evaluator.evaluate_now({3.0, 2, {}}, point(6.0f));
  EXPECT_DOUBLE_EQ(last.evaluation.loss, 6.0);
  EXPECT_DOUBLE_EQ(last.started_s, 3.0);
  EXPECT_DOUBLE_EQ(last.finished_s, 3.0);
  EXPECT_GE(evaluator.busy_s(), 0.0);
}

// Destroying an evaluator with one snapshot running and one waiting waits for the running one only.
TEST(Evaluator, DestructionWithWorkInFlight) {
  GatedObjective objective;
  std::thread opener;
  {
    Evaluator evaluator(objective, LmoOptions{});
    evaluator.submit({0.0, 0, {}}, point(1.0f));
    objective.wait_started(1);
    evaluator.submit({1.0, 1, {}}, point(2.0f));
    opener = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      objective.open_gate();
    });
  }  // blocks until the gate opens and the running evaluation returns
  opener.join();
  EXPECT_EQ(objective.started, 1);  // the waiting snapshot was abandoned
}

// The evaluator's own workspaces give the same stationarity measure as the optimizer's (spectral: an SVD).
TEST(Evaluator, DualNormMatchesTheOptimizers) {
  ParamLayout layout;
  layout.add("w", 7, 5, Geometry::spectral);
  layout.add("b", 1, 5, Geometry::sign);
  std::vector<float> g(layout.size());
  for (std::size_t i = 0; i < g.size(); ++i) g[i] = std::sin(static_cast<float>(i) * 0.7f);
  LmoOptimizer optimizer(layout, LmoOptions{}, true, StepScale::muon);
  Workspaces workspaces = make_workspaces(layout, LmoOptions{});
  EXPECT_EQ(dual_norm(layout, g, workspaces), optimizer.dual_norm(g));
}

// The Recorder's eval.csv header and rows with both optional columns, and summary.json's accuracies.
TEST(Recorder, AccuracyAndTrainLossColumns) {
  TempDir dir("recorder-columns");
  Config config;
  config.run.eval_every_s = 1.0;
  GatedObjective objective;
  objective.open_gate();
  RunDir run = RunDir::create(config, dir / "run", false);
  run.started();
  Recorder recorder(run, config, "sim", 2, EvalColumns::of(objective));
  std::vector<float> x0(2, 0.0f);
  Server server(config, objective.layout(), x0, 2);
  server.start();
  EvalScratch scratch(objective.layout(), LmoOptions{});
  auto evaluate = [&](double t, std::vector<float> x) {
    EvalResult r = evaluate_snapshot(objective, scratch, recorder.begin_evaluation(t, server.k()), x);
    r.started_s = r.finished_s = t;
    recorder.record_evaluation(r);
  };
  evaluate(0.0, point(2.0f, 0.25f));  // no minibatch yet: train_loss empty
  Outcome accepted;
  accepted.action = Action::accept;
  Outcome discarded;
  discarded.action = Action::discard;
  recorder.arrival(0.1, server, 1, 0, accepted, 3.0, 0.0, 0.0);
  recorder.arrival(0.2, server, 2, 0, discarded, 100.0, 0.0, 0.0);  // not accepted: not in train_loss
  recorder.arrival(0.3, server, 1, 0, accepted, 5.0, 0.0, 0.0);
  evaluate(1.0, point(1.0f, 0.75f));
  recorder.arrival(1.1, server, 1, 0, accepted, 7.0, 0.0, 0.0);
  evaluate(2.0, point(1.5f, 0.5f));
  recorder.finish(server, {{}, {}}, RunTotals{});

  const auto rows = read_csv(fs::path(dir / "run") / "eval.csv");
  std::ifstream eval_file(fs::path(dir / "run") / "eval.csv");
  std::string header;
  std::getline(eval_file, header);
  EXPECT_EQ(header, "time_s,k,loss,grad_dual_norm,accuracy,train_loss");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("train_loss"), "");
  EXPECT_DOUBLE_EQ(std::stod(rows[0].at("accuracy")), 0.25);
  EXPECT_DOUBLE_EQ(std::stod(rows[1].at("train_loss")), 4.0);  // (3 + 5) / 2
  EXPECT_DOUBLE_EQ(std::stod(rows[2].at("train_loss")), 7.0);
  const auto summary = read_json(fs::path(dir / "run") / "summary.json");
  EXPECT_DOUBLE_EQ(summary["final_accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(summary["best_accuracy"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(summary["best_loss"].get<double>(), 1.0);
  EXPECT_EQ(read_csv(fs::path(dir / "run") / "eval_windows.csv").size(), 3u);
}

// Without an accuracy or a training set (the quadratic), eval.csv keeps its four columns and the
// summary's accuracies are null.
TEST(Recorder, QuadraticKeepsFourColumns) {
  TempDir dir("recorder-plain");
  Config config;
  RunDir run = RunDir::create(config, dir / "run", false);
  run.started();
  Recorder recorder(run, config, "sim", 1, EvalColumns{});
  ParamLayout layout;
  layout.add("v", 1, 2, Geometry::l2);
  std::vector<float> x0(2, 0.0f);
  Server server(config, layout, x0, 1);
  EvalResult r;
  r.snapshot = recorder.begin_evaluation(0.0, 0);
  r.evaluation.loss = 3.0;
  r.evaluation.accuracy = 0.9;  // ignored: the header has no accuracy column
  recorder.record_evaluation(r);
  recorder.finish(server, {{}}, RunTotals{});
  std::ifstream eval_file(fs::path(dir / "run") / "eval.csv");
  std::string header, row;
  std::getline(eval_file, header);
  std::getline(eval_file, row);
  EXPECT_EQ(header, "time_s,k,loss,grad_dual_norm");
  EXPECT_EQ(row, "0.000000,0,3,0");
  const auto summary = read_json(fs::path(dir / "run") / "summary.json");
  EXPECT_TRUE(summary["final_accuracy"].is_null());
  EXPECT_TRUE(summary["best_accuracy"].is_null());
}

}  // namespace
}  // namespace ringmaster
