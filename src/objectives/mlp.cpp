#include "objectives/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "objectives/blas.hpp"
#include "ringmaster/error.hpp"

namespace ringmaster {
namespace {

// Test and full-gradient sweeps go through the network this many examples at a time: large enough that
// the products run at BLAS speed, small enough that the arena stays a few MB (1000 · (784 + widths)).
constexpr int kChunkRows = 1000;

}  // namespace

// ---------------------------------------------------------------------------------------------------
// Layers

template <class T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int B, int C, int OC, bool relu) {
  // out (B, OC) = inp (B, C) · weightᵀ: weight is (OC, C) row-major, so Bᵀ is BLAS's transpose flag.
  gemm(CblasNoTrans, CblasTrans, B, OC, C, T(1), inp, C, weight, C, T(0), out, OC);
  for (int b = 0; b < B; ++b) {
    T* row = out + product(b, OC);
    if (relu) {
      for (int o = 0; o < OC; ++o) row[o] = std::max(row[o] + bias[o], T(0));
    } else {
      for (int o = 0; o < OC; ++o) row[o] += bias[o];
    }
  }
}

template <class T>
void linear_backward(T* dinp, T* dweight, T* dbias, T* dout, const T* out, const T* inp, const T* weight, int B, int C,
                     int OC, bool relu, bool accumulate) {
  if (!accumulate) std::fill(dbias, dbias + OC, T(0));
  for (int b = 0; b < B; ++b) {
    T* drow = dout + product(b, OC);
    if (relu) {
      // a = max(z, 0): ∂a/∂z = 1 where a > 0, else 0 (the subgradient 0 at z = 0, as PyTorch takes).
      const T* row = out + product(b, OC);
      for (int o = 0; o < OC; ++o) drow[o] = row[o] > T(0) ? drow[o] : T(0);
    }
    for (int o = 0; o < OC; ++o) dbias[o] += drow[o];
  }
  // dweight (OC, C) = doutᵀ (OC, B) · inp (B, C)
  gemm(CblasTrans, CblasNoTrans, OC, C, B, T(1), dout, OC, inp, C, accumulate ? T(1) : T(0), dweight, C);
  // dinp (B, C) = dout (B, OC) · weight (OC, C)
  if (dinp != nullptr) gemm(CblasNoTrans, CblasNoTrans, B, C, OC, T(1), dout, OC, weight, C, T(0), dinp, C);
}

template <class T>
double crossentropy_forward(T* dlogits, const T* logits, const std::uint8_t* labels, int B, int V, T dscale,
                            int* correct) {
  double loss = 0.0;
  int right = 0;
  for (int b = 0; b < B; ++b) {
    const T* z = logits + product(b, V);
    const int label = labels[b];
    int argmax = 0;
    for (int v = 1; v < V; ++v)
      if (z[v] > z[argmax]) argmax = v;
    const T m = z[argmax];
    T sum = 0;
    for (int v = 0; v < V; ++v) sum += std::exp(z[v] - m);
    // loss_b = log Σ_v exp(z_v) − z_label = (m − z_label) + log Σ exp(z − m) ≥ 0.
    loss += static_cast<double>(m - z[label]) + std::log(static_cast<double>(sum));
    right += argmax == label ? 1 : 0;
    if (dlogits != nullptr) {
      T* d = dlogits + product(b, V);
      const T scale = dscale / sum;
      for (int v = 0; v < V; ++v) d[v] = std::exp(z[v] - m) * scale;
      d[label] -= dscale;
    }
  }
  if (correct != nullptr) *correct = right;
  return loss;
}

// ---------------------------------------------------------------------------------------------------
// Layout and network

ParamLayout mlp_layout(const std::vector<int>& widths, const RoleTable& roles) {
  ParamLayout layout;
  const std::size_t layers = widths.size() - 1;
  for (std::size_t l = 1; l <= layers; ++l) {
    const std::string name = "fc" + std::to_string(l);
    layout.add(name + ".weight", widths[l], widths[l - 1], l == layers ? Role::head : Role::matrix, roles);
    layout.add(name + ".bias", widths[l], 1, Role::vector, roles);
  }
  return layout;
}

template <class T>
MlpNetwork<T>::MlpNetwork(std::vector<int> widths, int max_rows) : widths_(std::move(widths)) {
  if (widths_.size() < 2) throw Error("an MLP needs at least an input and an output width");
  std::size_t params = 0, acts = 0;
  int widest = 0;  // of d_1..d_L: gradients w.r.t. layer outputs (the input's is never formed)
  for (std::size_t l = 0; l < widths_.size(); ++l) {
    activation_offset_.push_back(acts);
    acts += product(max_rows, widths_[l]);
    if (l == 0) continue;
    param_offset_.push_back(params);
    params += product(widths_[l], widths_[l - 1]) + static_cast<std::size_t>(widths_[l]);
    widest = std::max(widest, widths_[l]);
  }
  gradient_offset_[0] = acts;
  gradient_offset_[1] = acts + product(max_rows, widest);
  arena_.assign(acts + 2 * product(max_rows, widest), T(0));
}

template <class T>
typename MlpNetwork<T>::Result MlpNetwork<T>::forward(const T* params, const std::uint8_t* labels, int B, T dscale) {
  const std::size_t L = widths_.size() - 1;
  for (std::size_t l = 1; l <= L; ++l) {
    const T* weight = params + param_offset_[l - 1];                 // (d_l, d_{l−1})
    const T* bias = weight + product(widths_[l], widths_[l - 1]);    // (d_l)
    linear_forward(activation(l), activation(l - 1), weight, bias, B, widths_[l - 1], widths_[l], l < L);
  }
  Result r;
  T* dlogits = dscale != T(0) ? arena_.data() + gradient_offset_[0] : nullptr;  // (B, d_L)
  r.loss_sum = crossentropy_forward(dlogits, activation(L), labels, B, widths_[L], dscale, &r.correct);
  return r;
}

template <class T>
void MlpNetwork<T>::backward(const T* params, int B, T* grad, bool accumulate) {
  const std::size_t L = widths_.size() - 1;
  int current = 0;  // the gradient buffer holding ∂/∂a_l (first: the logits')
  for (std::size_t l = L; l >= 1; --l) {
    const std::size_t w = param_offset_[l - 1];
    const std::size_t bias = w + product(widths_[l], widths_[l - 1]);
    T* dout = arena_.data() + gradient_offset_[current];                     // (B, d_l)
    T* dinp = l > 1 ? arena_.data() + gradient_offset_[1 - current] : nullptr;  // (B, d_{l−1})
    linear_backward(dinp, grad + w, grad + bias, dout, activation(l), activation(l - 1), params + w, B, widths_[l - 1],
                    widths_[l], l < L, accumulate);
    current = 1 - current;
  }
}

template class MlpNetwork<float>;
template class MlpNetwork<double>;
template void linear_forward(float*, const float*, const float*, const float*, int, int, int, bool);
template void linear_forward(double*, const double*, const double*, const double*, int, int, int, bool);
template void linear_backward(float*, float*, float*, float*, const float*, const float*, const float*, int, int, int,
                              bool, bool);
template void linear_backward(double*, double*, double*, double*, const double*, const double*, const double*, int, int,
                              int, bool, bool);
template double crossentropy_forward(float*, const float*, const std::uint8_t*, int, int, float, int*);
template double crossentropy_forward(double*, const double*, const std::uint8_t*, int, int, double, int*);

// ---------------------------------------------------------------------------------------------------
// The objective

namespace {

std::vector<int> mlp_widths(const MlpConfig& c) {
  std::vector<int> widths{kFashionMnistSide * kFashionMnistSide};
  widths.insert(widths.end(), c.hidden.begin(), c.hidden.end());
  widths.push_back(kFashionMnistClasses);
  return widths;
}

}  // namespace

Mlp::Mlp(const Config& config)
    : data_(load_fashion_mnist(config.objective.mlp.data_dir)),
      widths_(mlp_widths(config.objective.mlp)),
      batch_(config.objective.mlp.batch),
      eval_train_examples_(std::min<std::size_t>(static_cast<std::size_t>(config.objective.mlp.eval_train_examples),
                                                 data_.train.count)),
      seed_(config.run.seed),
      layout_(mlp_layout(widths_, config.lmo.roles)),
      network_(widths_, std::max(batch_, kChunkRows)),
      minibatch_(static_cast<std::size_t>(batch_)),
      labels_(static_cast<std::size_t>(std::max(batch_, kChunkRows))) {
  // Inputs: p/255 ∈ [0, 1], or standardized by the training set's pixel mean and standard deviation (one
  // pair for all pixels, as the usual (0.2860, 0.3530) normalization of Fashion-MNIST). Precomputed per
  // byte value, so converting a minibatch is one table lookup per pixel.
  double mean = 0.0, std_dev = 1.0;
  if (config.objective.mlp.standardize) {
    std::size_t histogram[256] = {};
    for (std::uint8_t p : data_.train.pixels) ++histogram[p];
    double sum = 0.0, sum_sq = 0.0;
    for (int p = 0; p < 256; ++p) {
      const double v = p / 255.0;
      sum += static_cast<double>(histogram[p]) * v;
      sum_sq += static_cast<double>(histogram[p]) * v * v;
    }
    const auto n = static_cast<double>(data_.train.pixels.size());
    mean = sum / n;
    std_dev = std::sqrt(std::max(sum_sq / n - mean * mean, 1e-12));
  }
  for (int p = 0; p < 256; ++p) pixel_value_[p] = static_cast<float>((p / 255.0 - mean) / std_dev);
}

void Mlp::initial_point(std::span<float> x) const {
  Rng rng(seed_, Stream::objective_data);
  for (std::size_t l = 1; l < widths_.size(); ++l) {
    // Weight and bias of layer l are contiguous in the layout (fc{l}.weight, fc{l}.bias).
    const Block& weight = layout_.blocks()[2 * (l - 1)];
    const std::size_t count = weight.size() + static_cast<std::size_t>(widths_[l]);
    const double bound = 1.0 / std::sqrt(static_cast<double>(widths_[l - 1]));
    for (std::size_t i = 0; i < count; ++i)
      x[weight.offset + i] = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
  }
}

void Mlp::gather(const LabelledImages& set, const std::uint32_t* indices, int rows) {
  const std::size_t d = set.pixels_per_image;
  float* input = network_.input();  // (rows, 784)
  for (int b = 0; b < rows; ++b) {
    const std::uint8_t* image = set.image(indices[b]);
    float* row = input + static_cast<std::size_t>(b) * d;
    for (std::size_t j = 0; j < d; ++j) row[j] = pixel_value_[image[j]];
    labels_[static_cast<std::size_t>(b)] = set.labels[indices[b]];
  }
}

void Mlp::draw_sample(std::span<float>, SampleStream& samples) { samples.examples.next(minibatch_); }

double Mlp::gradient_at_sample(std::span<const float> x, std::span<float> g) {
  gather(data_.train, minibatch_.data(), batch_);
  const float dscale = 1.0f / static_cast<float>(batch_);  // the gradient of the mean loss
  const auto r = network_.forward(x.data(), labels_.data(), batch_, dscale);
  network_.backward(x.data(), batch_, g.data(), false);
  return r.loss_sum / batch_;
}

MlpNetwork<float>::Result Mlp::sweep(const LabelledImages& set, std::size_t count, std::span<const float> x,
                                     float* grad) {
  MlpNetwork<float>::Result total;
  const float dscale = grad != nullptr ? 1.0f / static_cast<float>(count) : 0.0f;
  chunk_.resize(static_cast<std::size_t>(kChunkRows));
  for (std::size_t first = 0; first < count; first += kChunkRows) {
    const int rows = static_cast<int>(std::min<std::size_t>(kChunkRows, count - first));
    std::iota(chunk_.begin(), chunk_.begin() + rows, static_cast<std::uint32_t>(first));
    gather(set, chunk_.data(), rows);
    const auto r = network_.forward(x.data(), labels_.data(), rows, dscale);
    if (grad != nullptr) network_.backward(x.data(), rows, grad, first > 0);
    total.loss_sum += r.loss_sum;
    total.correct += r.correct;
  }
  return total;
}

void Mlp::full_gradient(std::span<const float> x, std::span<float> g) {
  // The first eval_train_examples training images: the files are in a shuffled class order, so a prefix is
  // a fixed, class-balanced subset, the same for every worker and every evaluation.
  sweep(data_.train, eval_train_examples_, x, g.data());
}

Evaluation Mlp::evaluate(std::span<const float> x) {
  const auto r = sweep(data_.test, data_.test.count, x, nullptr);
  const auto n = static_cast<double>(data_.test.count);
  return {r.loss_sum / n, r.correct / n};
}

void Mlp::evaluate_on(const EvalData& data) {
  if (data.labels.empty()) throw Error("an mlp run evaluates an IDX pair: add --labels FILE, the labels of the images in " + data.path);
  data_.test = load_labelled_images(data.path, data.labels);
}

// The registry's row (objective.hpp): the layout's parameters (784 → hidden → 10); the data set is not
// counted (60,000 images, 47 MB).
ObjectiveRow mlp_objective() {
  return {"mlp", "objective.mlp",
          [](const Config& c) {
            ObjectiveSize size;
            const std::vector<int> widths = mlp_widths(c.objective.mlp);
            size.parameters = static_cast<double>(mlp_layout(widths, c.lmo.roles).size());
            size.shape = "objective.mlp.hidden = [";
            for (std::size_t i = 1; i + 1 < widths.size(); ++i)
              size.shape += (i > 1 ? ", " : "") + std::to_string(widths[i]);
            size.shape += "]";
            size.keys = {"objective.mlp.hidden"};
            return size;
          },
          [](const Config& c) -> std::unique_ptr<Objective> { return std::make_unique<Mlp>(c); }};
}

}  // namespace ringmaster
