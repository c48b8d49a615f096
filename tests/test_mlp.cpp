// The Fashion-MNIST MLP of docs/method.md §6: the loader on the Debian files, the layers against central
// differences in double, the objective's gradients against PyTorch autograd, its layout, init and sweeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <tuple>

#include "objectives/mlp.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using testing::TempDir;

Config mlp_config(std::vector<int> hidden, int batch = 128) {
  Config c;
  c.objective.kind = "mlp";
  c.objective.mlp.hidden = std::move(hidden);
  c.objective.mlp.batch = batch;
  return c;
}

double norm(const float* v, std::size_t n) {
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(v[i]) * v[i];
  return std::sqrt(s);
}

// ---------------------------------------------------------------------------------------------------
// Loader, on the files of the Debian package (scripts/bootstrap.sh installs it).

TEST(FashionMnist, DebianFilesHaveTheDocumentedCountsShapesAndBalancedClasses) {
  const FashionMnist data = load_fashion_mnist(kFashionMnistDir);
  for (const auto* set : {&data.train, &data.test}) {
    EXPECT_EQ(set->pixels_per_image, 784u);
    EXPECT_EQ(set->pixels.size(), set->count * 784u);
    EXPECT_EQ(set->labels.size(), set->count);
    // Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class (Xiao et al. 2017).
    std::vector<std::size_t> per_class(10, 0);
    for (std::uint8_t label : set->labels) {
      ASSERT_LT(label, 10);
      ++per_class[label];
    }
    for (std::size_t count : per_class) EXPECT_EQ(count, set->count / 10);
    // Images are not blank: some ink in every one of the first 100.
    for (std::size_t i = 0; i < 100; ++i)
      EXPECT_GT(*std::max_element(set->image(i), set->image(i) + 784), 0);
  }
  EXPECT_EQ(data.train.count, kFashionMnistTrain);
  EXPECT_EQ(data.test.count, kFashionMnistTest);
}

// The data set's fingerprint (data_fingerprint.hpp): per file its name, the size and CRC-32 of its
// decompressed content, in reading order. A gzip member's trailer holds exactly those two (CRC-32 and
// ISIZE, little endian, RFC 1952 §2.3.1), written by whoever compressed the file: an independent check.
TEST(FashionMnist, FingerprintIsEachFilesDecompressedSizeAndCrc32AsItsGzipTrailerSays) {
  const FashionMnist data = load_fashion_mnist(kFashionMnistDir);
  const std::vector<std::string> order = {"train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                                          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"};
  ASSERT_EQ(data.fingerprint.files.size(), order.size());
  EXPECT_EQ(data.fingerprint.source, kFashionMnistDir);
  for (std::size_t i = 0; i < order.size(); ++i) {
    const FileFingerprint& f = data.fingerprint.files[i];
    EXPECT_EQ(f.name, order[i]);
    std::ifstream in(std::string(kFashionMnistDir) + "/" + order[i], std::ios::binary);
    in.seekg(-8, std::ios::end);
    unsigned char trailer[8];
    in.read(reinterpret_cast<char*>(trailer), 8);
    const auto le32 = [&trailer](int at) {
      return std::uint32_t{trailer[at]} | std::uint32_t{trailer[at + 1]} << 8 | std::uint32_t{trailer[at + 2]} << 16 |
             std::uint32_t{trailer[at + 3]} << 24;
    };
    EXPECT_EQ(f.crc32, le32(0)) << f.name;
    EXPECT_EQ(f.bytes, le32(4)) << f.name;  // ISIZE: the size modulo 2^32, and these are below 2^32
  }
  // Labels: an 8-byte header and one byte each; images: 16 bytes and 784 each.
  EXPECT_EQ(data.fingerprint.files[0].bytes, 8 + kFashionMnistTrain);
  EXPECT_EQ(data.fingerprint.files[1].bytes, 16 + 784 * kFashionMnistTrain);
}

// ---------------------------------------------------------------------------------------------------
// Central differences in double on a tiny network (d = 6 → 5 → 4 → 3, B = 4).
//
// For a loss f smooth on [p − h, p + h], (f(p + h) − f(p − h)) / 2h = f'(p) + h² f'''(ξ)/6, and the two
// evaluations in double add at most ~2 u |f| / 2h (u = 2⁻⁵³). Here the inputs and weights are O(1), so
// along one coordinate the logits move at most O(10)·h, and the third derivative of the log-sum-exp is
// O(1): the truncation is ≲ 10 h²/6 ≈ 2e-10 and the rounding ≈ 1.1e-16 · 2 / 1e-5 ≈ 2e-11 for h = 1e-5.
// The tolerance 1e-8 leaves a factor ~50; a gradient that is wrong by any of its terms is off by O(0.01+).
// f is piecewise smooth (ReLU): the check first asserts every pre-activation is ≥ 1e-3 away from 0, so
// no ±h step (which moves a pre-activation by ≲ 10 h = 1e-4) crosses a kink.

TEST(MlpLayers, BackwardMatchesCentralDifferencesInDouble) {
  const std::vector<int> widths{6, 5, 4, 3};
  const int B = 4;
  const ParamLayout layout = mlp_layout(widths, RoleTable{});
  std::mt19937 rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> params(layout.size()), inputs(static_cast<std::size_t>(B) * 6);
  for (double& p : params) p = normal(rng);
  for (double& v : inputs) v = normal(rng);
  const std::vector<std::uint8_t> labels{0, 2, 1, 2};

  // Pre-activations, layer by layer, with the public layer function (relu off), to find the kinks.
  double closest_to_kink = std::numeric_limits<double>::infinity();
  std::vector<double> a = inputs;
  for (std::size_t l = 1; l < widths.size(); ++l) {
    const Block& w = layout.blocks()[2 * (l - 1)];
    const Block& b = layout.blocks()[2 * (l - 1) + 1];
    std::vector<double> z(static_cast<std::size_t>(B) * widths[l]);
    linear_forward(z.data(), a.data(), params.data() + w.offset, params.data() + b.offset, B, widths[l - 1], widths[l],
                   false);
    if (l + 1 < widths.size())
      for (double& v : z) closest_to_kink = std::min(closest_to_kink, std::abs(v)), v = std::max(v, 0.0);
    a = z;
  }
  ASSERT_GT(closest_to_kink, 1e-3) << "pick another seed: a ±h step could cross a ReLU kink";

  MlpNetwork<double> network(widths, B);
  const auto loss = [&](const std::vector<double>& p) {
    std::copy(inputs.begin(), inputs.end(), network.input());
    return network.forward(p.data(), labels.data(), B, 0.0).loss_sum / B;
  };
  std::copy(inputs.begin(), inputs.end(), network.input());
  network.forward(params.data(), labels.data(), B, 1.0 / B);
  std::vector<double> grad(params.size(), 123.0);  // overwritten (accumulate = false)
  network.backward(params.data(), B, grad.data(), false);

  const double h = 1e-5;
  double largest = 0.0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::vector<double> plus = params, minus = params;
    plus[i] += h;
    minus[i] -= h;
    const double central = (loss(plus) - loss(minus)) / (2 * h);
    EXPECT_NEAR(grad[i], central, 1e-8) << "parameter " << i;
    largest = std::max(largest, std::abs(grad[i]));
  }
  EXPECT_GT(largest, 1e-2);  // the comparison is not between zeros
}

// softmax cross-entropy stays finite where a naive exp would overflow: logits of ±1000.
TEST(MlpLayers, CrossEntropyIsStableForHugeLogits) {
  const std::vector<float> logits{1000.0f, -1000.0f, 0.0f, 999.0f, 1000.0f, 1000.0f};
  const std::vector<std::uint8_t> labels{0, 0};
  std::vector<float> d(6);
  int correct = 0;
  const double loss = crossentropy_forward(d.data(), logits.data(), labels.data(), 2, 3, 1.0f, &correct);
  // Row 0: −log softmax = log(1 + e^−2000 + e^−1000) ≈ 0; row 1: log(1 + e^1 + e^1) − (999 − 1000)... exactly:
  const double row1 = std::log(std::exp(-1.0) + 2.0) + 1.0;
  EXPECT_NEAR(loss, row1, 1e-5);
  EXPECT_EQ(correct, 1);
  for (float v : d) EXPECT_TRUE(std::isfinite(v));
  EXPECT_NEAR(d[0] + d[1] + d[2], 0.0, 1e-6);  // Σ (softmax − onehot) = 0
}

// ---------------------------------------------------------------------------------------------------
// The objective against PyTorch autograd on the same weights and minibatch (tests/mlp_reference.py).
//
// Tolerance, tensor by tensor: ‖g − g_torch‖ ≤ N u ‖g_torch‖ with u = 2⁻²⁴ (float32 unit roundoff) and N
// the total length of the reductions between the loss and the tensor: the forward dot products (Σ d_{l−1}),
// the softmax sum (10), the backward dot products (Σ d_l) and the batch sum of the weight gradient (B).
// Each computed quantity carries a relative error ≤ γ_n ≈ n u per reduction of length n (Higham,
// Accuracy and Stability, §3.1), the errors of a chain add, and both sides make such errors in different
// orders. In practice the error grows like √N u, so this is a worst-case bound that a wrong gradient
// (a missing 1/B, a wrong transpose, a missing ReLU mask: relative errors of order 1) cannot meet.

struct Reference {
  std::vector<float> grad;
  double loss = 0.0;
};

Reference torch_reference(const TempDir& dir, const std::vector<int>& widths, std::span<const float> x,
                          const std::vector<float>& inputs, const std::vector<std::uint8_t>& labels) {
  {
    std::ofstream(dir / "widths.txt") << [&] {
      std::string s;
      for (int w : widths) s += std::to_string(w) + " ";
      return s;
    }();
    std::ofstream(dir / "params.f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(x.size_bytes()));
    std::ofstream(dir / "inputs.f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(inputs.data()), static_cast<std::streamsize>(inputs.size() * 4));
    std::ofstream(dir / "labels.u8", std::ios::binary)
        .write(reinterpret_cast<const char*>(labels.data()), static_cast<std::streamsize>(labels.size()));
  }
  // Debian's python (python3-torch, python3-numpy; scripts/bootstrap.sh), not whatever `python3` is on PATH.
  // Without torch this fails loudly: the test is a check CI must run, never a skip.
  const auto run = testing::run("/usr/bin/python3 " + testing::source_dir() + "/tests/mlp_reference.py " +
                                dir.path().string());
  EXPECT_EQ(run.exit_code, 0) << "the PyTorch reference failed (is python3-torch installed? scripts/bootstrap.sh):\n"
                              << run.output;
  Reference ref;
  ref.grad.resize(x.size());
  std::ifstream grad(dir / "grad.f32", std::ios::binary);
  grad.read(reinterpret_cast<char*>(ref.grad.data()), static_cast<std::streamsize>(x.size_bytes()));
  EXPECT_EQ(grad.gcount(), static_cast<std::streamsize>(x.size_bytes())) << "grad.f32 is short";
  std::ifstream(dir / "loss.txt") >> ref.loss;
  return ref;
}

void expect_matches_torch(std::vector<int> hidden, int batch, bool standardize) {
  Config config = mlp_config(hidden, batch);
  config.objective.mlp.standardize = standardize;
  config.run.seed = 5;
  Mlp mlp(config);
  std::vector<float> x(mlp.layout().size()), g(x.size());
  mlp.initial_point(x);
  SampleStream samples(config.run.seed, 2, 0, mlp.training_examples());
  mlp.draw_sample(g, samples);
  const double loss = mlp.gradient_at_sample(x, g);

  // The batch as the network sees it, formed here from the data and the documented scaling.
  const auto& train = mlp.data().train;
  std::vector<float> inputs;
  std::vector<std::uint8_t> labels;
  for (std::uint32_t i : mlp.minibatch()) {
    for (std::size_t j = 0; j < 784; ++j) inputs.push_back(mlp.input_value(train.image(i)[j]));
    labels.push_back(train.labels[i]);
  }
  if (!standardize) {
    EXPECT_EQ(mlp.input_value(255), 1.0f);
  }
  ASSERT_EQ(labels.size(), static_cast<std::size_t>(batch));

  std::vector<int> widths{784};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(10);
  TempDir dir("mlp-torch");
  const Reference ref = torch_reference(dir, widths, x, inputs, labels);

  const double u = std::ldexp(1.0, -24);
  double forward_length = 10;  // the softmax sum
  for (std::size_t l = 1; l < widths.size(); ++l) forward_length += widths[l - 1] + widths[l];
  const double n_total = forward_length + batch;
  EXPECT_NEAR(loss, ref.loss, forward_length * u * std::max(1.0, ref.loss));
  for (const Block& block : mlp.layout().blocks()) {
    const double ref_norm = norm(ref.grad.data() + block.offset, block.size());
    std::vector<float> diff(block.size());
    for (std::size_t i = 0; i < block.size(); ++i) diff[i] = g[block.offset + i] - ref.grad[block.offset + i];
    const double error = norm(diff.data(), diff.size());
    EXPECT_GT(ref_norm, 0.0) << block.name;
    EXPECT_LE(error, n_total * u * ref_norm) << block.name << ": ‖g − g_torch‖ / ‖g_torch‖ = " << error / ref_norm;
  }
}

TEST(Mlp, GradientsAndLossMatchPytorchAutograd) { expect_matches_torch({128, 128}, 128, false); }
TEST(Mlp, GradientsMatchPytorchOtherShapesAndStandardizedInputs) { expect_matches_torch({300}, 64, true); }
TEST(Mlp, SoftmaxRegressionWithoutHiddenLayersMatchesPytorch) { expect_matches_torch({}, 32, false); }

// ---------------------------------------------------------------------------------------------------
// Layout, initial point, sweeps, learning.

TEST(Mlp, LayoutHasRolesFromTheRoleTable) {
  Config config = mlp_config({128, 64});
  Mlp mlp(config);
  const auto& blocks = mlp.layout().blocks();
  ASSERT_EQ(blocks.size(), 6u);
  const std::vector<std::tuple<std::string, int, int, Role>> expected{
      {"fc1.weight", 128, 784, Role::matrix}, {"fc1.bias", 128, 1, Role::vector}, {"fc2.weight", 64, 128, Role::matrix},
      {"fc2.bias", 64, 1, Role::vector},      {"fc3.weight", 10, 64, Role::head}, {"fc3.bias", 10, 1, Role::vector}};
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(blocks[i].name, std::get<0>(expected[i]));
    EXPECT_EQ(blocks[i].rows, std::get<1>(expected[i]));
    EXPECT_EQ(blocks[i].cols, std::get<2>(expected[i]));
    EXPECT_EQ(blocks[i].role, std::get<3>(expected[i]));
    EXPECT_EQ(blocks[i].geometry, config.lmo.roles[blocks[i].role].geometry);
  }
  EXPECT_EQ(blocks[0].geometry, Geometry::spectral);  // docs/method.md §6: hidden matrices spectral, others none
  EXPECT_EQ(blocks[4].geometry, Geometry::none);
  EXPECT_EQ(mlp.training_examples(), 60000u);
  EXPECT_FALSE(mlp.known_minimum());
}

// x0 ~ U(−1/√in, 1/√in) per layer: inside the bound, with mean |w|·√in = 1/2 (the mean of |U(−1, 1)|) to
// within 5 standard deviations (1/√12 per entry, over n entries), and the same for the same seed.
TEST(Mlp, InitialPointIsSeededTorchLinearUniform) {
  Config config = mlp_config({128});
  Mlp mlp(config);
  std::vector<float> x(mlp.layout().size()), again(x.size());
  mlp.initial_point(x);
  mlp.initial_point(again);
  EXPECT_EQ(x, again);
  for (const Block& b : mlp.layout().blocks()) {
    const double in = b.role == Role::vector ? (b.name == "fc1.bias" ? 784 : 128) : b.cols;
    double mean_abs = 0.0;
    for (std::size_t i = 0; i < b.size(); ++i) {
      const double scaled = x[b.offset + i] * std::sqrt(in);
      EXPECT_LE(std::abs(scaled), 1.0 + 1e-6) << b.name;
      mean_abs += std::abs(scaled) / static_cast<double>(b.size());
    }
    EXPECT_NEAR(mean_abs, 0.5, 5.0 / std::sqrt(12.0 * static_cast<double>(b.size()))) << b.name;
  }
  config.run.seed = 1;
  std::vector<float> other(x.size());
  Mlp(config).initial_point(other);
  EXPECT_NE(x, other);
}

// full_gradient over 1,500 examples runs as chunks of 1,000 and 500: it must equal one pass over all 1,500
// (same float math up to the order of the batch sums: tolerance as for PyTorch, N = 1,500 + path).
TEST(Mlp, FullGradientIsTheMeanOverTheEvaluationSubsetAcrossChunks) {
  Config config = mlp_config({64});
  config.objective.mlp.eval_train_examples = 1500;
  Mlp mlp(config);
  std::vector<float> x(mlp.layout().size()), g(x.size()), ref(x.size());
  mlp.initial_point(x);
  mlp.full_gradient(x, g);

  MlpNetwork<float> network({784, 64, 10}, 1500);
  for (std::size_t i = 0; i < 1500; ++i)
    for (std::size_t j = 0; j < 784; ++j) network.input()[i * 784 + j] = mlp.input_value(mlp.data().train.image(i)[j]);
  network.forward(x.data(), mlp.data().train.labels.data(), 1500, 1.0f / 1500);
  network.backward(x.data(), 1500, ref.data(), false);
  const double n_total = 1500 + 784 + 64 + 10 + 64 + 10 + 10;
  for (const Block& b : mlp.layout().blocks()) {
    std::vector<float> diff(b.size());
    for (std::size_t i = 0; i < b.size(); ++i) diff[i] = g[b.offset + i] - ref[b.offset + i];
    EXPECT_LE(norm(diff.data(), diff.size()), n_total * std::ldexp(1.0, -24) * norm(ref.data() + b.offset, b.size()))
        << b.name;
  }
}

// At x0 the logits are small (|w| ≤ 1/√in), so the softmax is near uniform: test loss ≈ ln 10 and accuracy
// near chance. Then 300 plain SGD steps (γ = 0.1, batch 128: 0.64 epochs) must learn: an MLP reaches
// ~80% on Fashion-MNIST within an epoch; the bounds (loss ≤ 0.35 · ln 10, accuracy ≥ 0.7, chance 0.1) fail
// for any broken gradient, sampler or evaluation.
TEST(Mlp, PlainSgdLearnsFashionMnist) {
  Config config = mlp_config({128, 128});
  Mlp mlp(config);
  std::vector<float> x(mlp.layout().size()), g(x.size());
  mlp.initial_point(x);
  const Evaluation start = mlp.evaluate(x);
  EXPECT_NEAR(start.loss, std::log(10.0), 0.2);
  ASSERT_TRUE(start.accuracy.has_value());
  EXPECT_LT(*start.accuracy, 0.3);
  SampleStream samples(0, 1, 0, mlp.training_examples());
  for (int step = 0; step < 300; ++step) {
    mlp.stochastic_gradient(x, g, samples);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] -= 0.1f * g[i];
  }
  const Evaluation end = mlp.evaluate(x);
  EXPECT_LT(end.loss, 0.35 * std::log(10.0));
  EXPECT_GT(*end.accuracy, 0.7);
}

}  // namespace
}  // namespace ringmaster
