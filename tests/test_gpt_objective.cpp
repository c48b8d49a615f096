// The objective `gpt` around its network (docs/method.md §6, src/objectives/gpt_objective.hpp): the windows it
// feeds the network are the corpus's, targets one byte ahead; a minibatch's gradient is the mean loss's;
// the full gradient summed over chunks equals the gradient over all its windows at once; evaluation is the
// validation loss per byte; generation is deterministic. The network itself is tested in test_gpt.cpp.
#include "objectives/gpt_objective.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/rng.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using testing::TempDir;

constexpr int kContext = 8;

// A corpus of 40 short documents and a tiny network over it (1 block, width 8, 2 heads).
class GptObjectiveTest : public ::testing::Test {
 protected:
  GptObjectiveTest() : dir_("gpt-objective") {
    std::string text;
    for (int d = 0; d < 40; ++d) text += "document " + std::to_string(d) + ": some text, and more of it.\n%\n";
    testing::write_file(dir_.path() / "corpus.txt", text);
    config_.objective.kind = "gpt";
    config_.objective.gpt = GptConfig{1, 2, 8, kContext, 3, dir_ / "corpus.txt", 0.25, 40, 5 * kContext};
    config_.run.seed = 11;
  }

  // Random parameters of the network's size (N(0, 0.5²)): every block contributes to the loss, unlike x0
  // whose head is zero.
  std::vector<float> random_point(const Gpt& gpt) const {
    std::vector<float> x(gpt.layout().size());
    Rng(5, Stream::objective_data).fill_normal(x, 0.5f);
    return x;
  }

  // Σ loss and the gradient of dscale · Σ loss over `windows` of `stream`, in one forward and backward.
  static double direct(const GptShape& shape, const std::vector<std::uint8_t>& stream,
                       const std::vector<std::uint32_t>& windows, const std::vector<float>& x, float dscale,
                       std::vector<float>* grad) {
    const int B = static_cast<int>(windows.size());
    std::vector<std::uint8_t> inputs, targets;
    for (std::uint32_t w : windows)
      for (int t = 0; t < shape.context; ++t) {
        inputs.push_back(stream[w * static_cast<std::size_t>(shape.context) + static_cast<std::size_t>(t)]);
        targets.push_back(stream[w * static_cast<std::size_t>(shape.context) + static_cast<std::size_t>(t) + 1]);
      }
    GptNetwork<float> network(shape, B);
    const double loss = network.forward(x.data(), inputs.data(), targets.data(), B, shape.context, dscale);
    if (grad != nullptr) {
      grad->assign(x.size(), 0.0f);
      network.backward(x.data(), grad->data());
    }
    return loss;
  }

  TempDir dir_;
  Config config_;
};

TEST_F(GptObjectiveTest, TrainingExamplesAreTheTrainingWindows) {
  Gpt gpt(config_);
  EXPECT_EQ(gpt.corpus().documents, 40u);
  EXPECT_EQ(gpt.corpus().validation_documents.size(), 10u);
  EXPECT_EQ(gpt.training_examples(), window_count(gpt.corpus().train.size(), kContext));
  EXPECT_FALSE(gpt.known_minimum());
  EXPECT_FALSE(gpt.reports_accuracy());
  // eval_tokens = 40 → ⌈40 / 8⌉ = 5 validation windows, spread over the stream.
  EXPECT_EQ(gpt.validation_windows().size(), 5u);
  EXPECT_EQ(gpt.validation_windows().back(),
            4 * window_count(gpt.corpus().validation.size(), kContext) / 5);
}

// x0's head is zero: uniform predictions, ln 256 per byte (float rounding only).
TEST_F(GptObjectiveTest, InitialValidationLossIsLn256) {
  Gpt gpt(config_);
  std::vector<float> x(gpt.layout().size());
  gpt.initial_point(x);
  const Evaluation e = gpt.evaluate(x);
  EXPECT_NEAR(e.loss, std::log(256.0), 1e-5);
  EXPECT_FALSE(e.accuracy.has_value());
}

// The minibatch the sampler draws is fed as the corpus's windows with targets one byte ahead: the loss and
// gradient equal a direct forward/backward of those bytes with dscale = 1 / (B·T). Same network and
// inputs, so the only difference is none (bitwise equal).
TEST_F(GptObjectiveTest, StochasticGradientIsTheMeanOverTheDrawnWindows) {
  Gpt gpt(config_);
  const auto x = random_point(gpt);
  SampleStream samples(config_.run.seed, 1, 0, gpt.training_examples());
  std::vector<float> g(x.size());
  const double loss = gpt.stochastic_gradient(x, g, samples);
  const std::vector<std::uint32_t> drawn(gpt.minibatch().begin(), gpt.minibatch().end());
  ASSERT_EQ(drawn.size(), 3u);
  const GptShape shape = gpt_shape(config_.objective.gpt);
  std::vector<float> expected;
  const double sum = direct(shape, gpt.corpus().train, drawn, x, 1.0f / (3 * kContext), &expected);
  EXPECT_EQ(loss, sum / (3 * kContext));
  EXPECT_EQ(g, expected);
}

// full_gradient runs 5 windows in chunks of the batch (3 + 2) and sums the chunks' gradients: it equals the
// gradient of the mean over the 5 windows in one pass up to float rounding of the two-term sums and of the
// differently blocked products (relative 1e-5 of the gradient's largest entry: ~100 float ulps).
TEST_F(GptObjectiveTest, FullGradientInChunksEqualsTheGradientOverAllWindows) {
  Gpt gpt(config_);
  const auto x = random_point(gpt);
  std::vector<float> g(x.size());
  gpt.full_gradient(x, g);
  const auto windows = spread_windows(gpt.training_examples(), 5);
  std::vector<float> expected;
  direct(gpt_shape(config_.objective.gpt), gpt.corpus().train, windows, x, 1.0f / (5 * kContext), &expected);
  float largest = 0.0f;
  for (float v : expected) largest = std::max(largest, std::abs(v));
  ASSERT_GT(largest, 0.0f);
  for (std::size_t i = 0; i < g.size(); ++i) ASSERT_NEAR(g[i], expected[i], 1e-5f * largest) << "entry " << i;
}

TEST_F(GptObjectiveTest, EvaluationIsTheMeanValidationLossPerByte) {
  Gpt gpt(config_);
  const auto x = random_point(gpt);
  const std::vector<std::uint32_t> windows(gpt.validation_windows().begin(), gpt.validation_windows().end());
  const double sum = direct(gpt_shape(config_.objective.gpt), gpt.corpus().validation, windows, x, 0.0f, nullptr);
  // Chunks of 3 and 2 windows against all 5 at once: the same per-position losses summed in another order.
  EXPECT_NEAR(gpt.evaluate(x).loss, sum / (5.0 * kContext), 1e-6 * sum / (5.0 * kContext));
}

TEST_F(GptObjectiveTest, GenerationIsDeterministicAndSeeded) {
  Gpt gpt(config_);
  const auto x = random_point(gpt);
  const GptShape shape = gpt_shape(config_.objective.gpt);
  const std::string greedy = gpt_generate(shape, x, "doc", 20, 0.0, 1);
  EXPECT_EQ(greedy.size(), 20u);
  EXPECT_EQ(greedy, gpt_generate(shape, x, "doc", 20, 0.0, 2));  // the seed plays no part at temperature 0
  const std::string drawn = gpt_generate(shape, x, "doc", 20, 1.0, 1);
  EXPECT_EQ(drawn, gpt_generate(shape, x, "doc", 20, 1.0, 1));
  EXPECT_NE(drawn, gpt_generate(shape, x, "doc", 20, 1.0, 2));  // 20 draws of spread-out distributions
}

// A bad corpus names the key and the path.
TEST_F(GptObjectiveTest, BadCorpusNamesTheKey) {
  config_.objective.gpt.corpus = dir_ / "missing";
  try {
    Gpt gpt(config_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("objective.gpt.corpus: " + dir_ / "missing" + ": no such file"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ringmaster
