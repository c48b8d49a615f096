// The objective `gpt` (docs/method.md §6): the byte-level transformer of objectives/gpt.hpp trained on a
// text corpus (objectives/text_corpus.hpp) to predict the next byte. A stochastic gradient is the gradient of
// the mean cross-entropy over `batch` training windows that the worker's sampler draws; the reported loss is
// the validation cross-entropy in nats per byte over a fixed, evenly spread subset of validation windows.
// Also here: generation from a trained network (ringmaster sample).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "objectives/gpt.hpp"
#include "objectives/text_corpus.hpp"
#include "ringmaster/objective.hpp"

namespace ringmaster {

GptShape gpt_shape(const GptConfig& config);

class Gpt final : public Objective {
 public:
  explicit Gpt(const Config& config);  // reads the corpus: Error naming the path if it is bad

  const ParamLayout& layout() const override { return layout_; }
  // nanochat's initialization (gpt_initialize) from run.seed.
  void initial_point(std::span<float> x) const override;
  // The training windows (text_corpus.hpp: context + 1 bytes at a stride of context).
  std::size_t training_examples() const override { return train_windows_; }
  const DataFingerprint& data_fingerprint() const override { return corpus_.fingerprint; }
  bool known_minimum() const override { return false; }
  // The minibatch's window indices (from the worker's EpochSampler); g is untouched.
  void draw_sample(std::span<float> g, SampleStream& samples) override;
  // g = ∇ of the mean cross-entropy over the batch · context predictions of the minibatch; returns it.
  double gradient_at_sample(std::span<const float> x, std::span<float> g) override;
  // g = ∇ of the mean cross-entropy over the eval_train_tokens subset of training windows.
  void full_gradient(std::span<const float> x, std::span<float> g) override;
  // Validation cross-entropy, nats per byte, over the eval_tokens subset of validation windows.
  Evaluation evaluate(std::span<const float> x) override;
  // evaluate() then reads the text file (or directory) data.path instead of the validation stream: its
  // documents as one stream (load_text_stream), the eval_tokens subset of its windows chosen as the
  // validation windows are.
  void evaluate_on(const EvalData& data) override;

  const TextCorpus& corpus() const { return corpus_; }
  std::span<const std::uint32_t> minibatch() const { return minibatch_; }               // of the last draw_sample
  std::span<const std::uint32_t> validation_windows() const { return validation_windows_; }  // of evaluate

 private:
  // Copies `count` windows of `stream` into inputs_ and targets_ (count, context).
  void gather(std::span<const std::uint8_t> stream, const std::uint32_t* windows, int count);
  // Σ loss over `windows` of `stream`, in chunks of the batch; grad, if given, gets the gradient of the mean.
  double sweep(std::span<const std::uint8_t> stream, std::span<const std::uint32_t> windows, std::span<const float> x,
               float* grad);

  GptShape shape_;
  int batch_;
  int eval_tokens_;  // objective.gpt.eval_tokens
  std::uint64_t seed_;
  TextCorpus corpus_;
  std::size_t train_windows_;
  std::vector<std::uint32_t> validation_windows_;  // evaluated by evaluate()
  std::vector<std::uint32_t> train_eval_windows_;  // of full_gradient()
  ParamLayout layout_;
  GptNetwork<float> network_;
  std::vector<std::uint32_t> minibatch_;  // (batch)
  std::vector<std::uint8_t> inputs_;      // (batch, context)
  std::vector<std::uint8_t> targets_;     // (batch, context)
  std::vector<float> chunk_gradient_;     // (layout size) full_gradient's chunks before they are summed
};

// `tokens` bytes generated after `prompt` by the network with parameters `params` (gpt_layout(shape)). The
// network reads kEndOfDocument then the prompt (a prompt starts a document, as every document does in the
// training stream) and the bytes it made, the last `context` of them (a sliding window, positions from 0 as
// in training). Temperature 0 takes the most likely byte (the lowest on a tie, as torch.argmax); above 0 it
// draws from softmax(logits / temperature) with a generator seeded by `seed`. Each byte goes to `emit` as
// soon as it is made (ringmaster sample streams them); the second form returns them all.
void gpt_generate(const GptShape& shape, std::span<const float> params, std::string_view prompt, int tokens,
                  double temperature, std::uint64_t seed, const std::function<void(char)>& emit);
std::string gpt_generate(const GptShape& shape, std::span<const float> params, std::string_view prompt, int tokens,
                         double temperature, std::uint64_t seed);

}  // namespace ringmaster
