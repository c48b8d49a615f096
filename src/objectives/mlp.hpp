// The Fashion-MNIST classifier of docs/method.md §6, in the style of llm.c: a layout table (mlp_layout) says
// how the flat parameter buffer is carved into tensors, and each layer is a *_forward / *_backward pair
// over flat row-major buffers, shapes in comments. The network is
//   a_0 = pixels (B, 784) → [z_l = a_{l−1} W_lᵀ + b_l, a_l = ReLU(z_l)] for hidden l → logits (B, 10)
//   → softmax cross-entropy, averaged over the batch.
// W_l is (out, in), row-major, like torch.nn.Linear's weight, so the products run on BLAS with its
// transpose flags and no copies. The layer functions are templates over float (the objective) and double
// (the finite-difference test); everything else is float32.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "objectives/fashion_mnist.hpp"
#include "ringmaster/objective.hpp"

namespace ringmaster {

// ---------------------------------------------------------------------------------------------------
// Layers. B = rows of the batch, C = input features, OC = output features.

// out (B, OC) = inp (B, C) · weightᵀ + bias, then ReLU in the same pass over out when `relu`.
//   weight (OC, C), bias (OC).
template <class T>
void linear_forward(T* out, const T* inp, const T* weight, const T* bias, int B, int C, int OC, bool relu);

// Backward of linear_forward given dout (B, OC) = ∂loss/∂out. With `relu`, dout is first masked in place
// by out > 0 (ReLU's derivative, read from the layer's output), in the pass that also sums dbias.
//   dweight (OC, C) (+)= doutᵀ · inp,  dbias (OC) (+)= Σ_b dout,  dinp (B, C) = dout · weight
// (`accumulate`: add to dweight and dbias instead of overwriting them); dinp = nullptr skips it (the
// input layer: pixels need no gradient).
template <class T>
void linear_backward(T* dinp, T* dweight, T* dbias, T* dout, const T* out, const T* inp, const T* weight, int B, int C,
                     int OC, bool relu, bool accumulate);

// Softmax cross-entropy over logits (B, V) with labels (B) in 0..V−1, stable: log Σ exp(z) = m + log Σ
// exp(z − m) with m the row's maximum, so no exp overflows. Returns the summed loss (in double) and, in
// *correct, how many rows have their label as the argmax. dlogits (B, V), unless nullptr, gets
// dscale · (softmax(z) − onehot(label)): the gradient of dscale · Σ_b loss_b.
template <class T>
double crossentropy_forward(T* dlogits, const T* logits, const std::uint8_t* labels, int B, int V, T dscale,
                            int* correct);

// ---------------------------------------------------------------------------------------------------
// The layout table: for layer l = 1..L, "fc{l}.weight" (d_l, d_{l−1}) then "fc{l}.bias" (d_l, 1), where
// widths = {d_0, ..., d_L}. Roles (docs/method.md §6): hidden weights `matrix`, the last weight `head`,
// biases `vector`.
ParamLayout mlp_layout(const std::vector<int>& widths, const RoleTable& roles);

// A whole network's forward and backward over one arena of activations, allocated once for batches of
// up to max_rows.
template <class T>
class MlpNetwork {
 public:
  MlpNetwork(std::vector<int> widths, int max_rows);

  // (max_rows, d_0): the caller writes the batch's B inputs here before forward().
  T* input() { return activation(0); }
  const std::vector<int>& widths() const { return widths_; }

  struct Result {
    double loss_sum = 0.0;  // Σ_b loss_b
    int correct = 0;        // rows classified right
  };
  // The B rows of input() through the network with `params` laid out by mlp_layout(widths). With
  // dscale ≠ 0 it also leaves ∂(dscale · Σ loss)/∂logits for backward().
  Result forward(const T* params, const std::uint8_t* labels, int B, T dscale);
  // grad (same layout as params) = (or += with accumulate) the gradient of dscale · Σ loss, after a
  // forward() with that dscale on the same params and batch.
  void backward(const T* params, int B, T* grad, bool accumulate);

 private:
  T* activation(std::size_t l) { return arena_.data() + activation_offset_[l]; }  // a_l (max_rows, d_l)

  std::vector<int> widths_;                    // d_0 .. d_L
  std::vector<std::size_t> param_offset_;      // of fc{l}.weight; its bias follows (mlp_layout's order)
  std::vector<std::size_t> activation_offset_; // of a_0 .. a_L in arena_
  std::size_t gradient_offset_[2] = {0, 0};    // two (max_rows, max d_l) buffers backward alternates
  std::vector<T> arena_;
};

// ---------------------------------------------------------------------------------------------------
// The objective `mlp` (docs/method.md §6).
class Mlp final : public Objective {
 public:
  explicit Mlp(const Config& config);  // loads the data set: Error naming the file if it is bad

  const ParamLayout& layout() const override { return layout_; }
  // PyTorch's nn.Linear default: weights and biases U(−1/√in, 1/√in) (its kaiming_uniform with a = √5
  // gives exactly that bound), from run.seed.
  void initial_point(std::span<float> x) const override;
  std::size_t training_examples() const override { return data_.train.count; }
  const DataFingerprint& data_fingerprint() const override { return data_.fingerprint; }
  bool known_minimum() const override { return false; }
  bool reports_accuracy() const override { return true; }
  // The minibatch's indices (from the worker's EpochSampler); g is untouched.
  void draw_sample(std::span<float> g, SampleStream& samples) override;
  // g = ∇ of the mean cross-entropy over the minibatch; returns that mean.
  double gradient_at_sample(std::span<const float> x, std::span<float> g) override;
  // g = ∇ of the mean cross-entropy over the first objective.mlp.eval_train_examples training images.
  void full_gradient(std::span<const float> x, std::span<float> g) override;
  // Test cross-entropy and accuracy over the 10,000 test images, in chunks.
  Evaluation evaluate(std::span<const float> x) override;
  // evaluate() then reads the IDX pair data.path (images) and data.labels instead of the test set
  // (load_labelled_images), inputs scaled as in training.
  void evaluate_on(const EvalData& data) override;

  std::span<const std::uint32_t> minibatch() const { return minibatch_; }  // of the last draw_sample
  const FashionMnist& data() const { return data_; }
  float input_value(std::uint8_t pixel) const { return pixel_value_[pixel]; }  // what the network sees

 private:
  // Loads rows `indices` of `set` into the network's input and labels_.
  void gather(const LabelledImages& set, const std::uint32_t* indices, int rows);
  // Σ loss and correct over examples [0, count) of `set`, in chunks; grad, if given, gets the gradient of
  // the mean.
  MlpNetwork<float>::Result sweep(const LabelledImages& set, std::size_t count, std::span<const float> x,
                                  float* grad);

  FashionMnist data_;
  std::vector<int> widths_;  // 784, hidden..., 10
  int batch_;
  std::size_t eval_train_examples_;
  std::uint64_t seed_;
  ParamLayout layout_;
  float pixel_value_[256];  // byte → input: p/255, or (p/255 − mean)/std when standardized
  MlpNetwork<float> network_;
  std::vector<std::uint32_t> minibatch_;  // (batch)
  std::vector<std::uint32_t> chunk_;      // (rows of a chunk) consecutive indices for sweep()
  std::vector<std::uint8_t> labels_;      // (max rows) of the batch in the network
};

}  // namespace ringmaster
