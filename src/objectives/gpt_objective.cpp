#include "objectives/gpt_objective.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <spdlog/fmt/fmt.h>

#include "ringmaster/error.hpp"
#include "ringmaster/text.hpp"
#include "ringmaster/rng.hpp"

namespace ringmaster {
namespace {

// The fixed subset of a stream's windows an evaluation sweeps (docs/method.md §6): windows covering at least
// `tokens` predictions, ⌈tokens / context⌉ of them, spread evenly over the stream (all when it has fewer).
std::vector<std::uint32_t> evaluation_windows(std::size_t stream_bytes, int tokens, int context) {
  const std::size_t count =
      (static_cast<std::size_t>(tokens) + static_cast<std::size_t>(context) - 1) / static_cast<std::size_t>(context);
  return spread_windows(window_count(stream_bytes, context), count);
}

TextCorpus load_corpus(const Config& config) {
  const GptConfig& gpt = config.objective.gpt;
  try {
    return load_text_corpus(gpt.corpus, gpt.validation_fraction, config.run.seed, gpt.context);
  } catch (const Error& e) {
    throw Error(std::string("objective.gpt.corpus: ") + e.what());
  }
}

}  // namespace

GptShape gpt_shape(const GptConfig& config) { return {config.layers, config.heads, config.width, config.context}; }

Gpt::Gpt(const Config& config)
    : shape_(gpt_shape(config.objective.gpt)),
      batch_(config.objective.gpt.batch),
      eval_tokens_(config.objective.gpt.eval_tokens),
      seed_(config.run.seed),
      corpus_(load_corpus(config)),
      train_windows_(window_count(corpus_.train.size(), shape_.context)),
      validation_windows_(evaluation_windows(corpus_.validation.size(), eval_tokens_, shape_.context)),
      train_eval_windows_(evaluation_windows(corpus_.train.size(), config.objective.gpt.eval_train_tokens, shape_.context)),
      layout_(gpt_layout(shape_, config.lmo.roles)),
      network_(shape_, batch_),
      minibatch_(static_cast<std::size_t>(batch_)),
      inputs_(static_cast<std::size_t>(batch_) * static_cast<std::size_t>(shape_.context)),
      targets_(inputs_.size()),
      chunk_gradient_(layout_.size()) {}

void Gpt::initial_point(std::span<float> x) const { gpt_initialize(shape_, layout_, seed_, x); }

void Gpt::gather(std::span<const std::uint8_t> stream, const std::uint32_t* windows, int count) {
  const auto T = static_cast<std::size_t>(shape_.context);
  for (std::size_t b = 0; b < static_cast<std::size_t>(count); ++b) {
    const std::uint8_t* w = window(stream, windows[b], shape_.context);  // T + 1 bytes
    std::memcpy(inputs_.data() + b * T, w, T);
    std::memcpy(targets_.data() + b * T, w + 1, T);
  }
}

void Gpt::draw_sample(std::span<float>, SampleStream& samples) { samples.examples.next(minibatch_); }

double Gpt::gradient_at_sample(std::span<const float> x, std::span<float> g) {
  gather(corpus_.train, minibatch_.data(), batch_);
  const double tokens = static_cast<double>(batch_) * shape_.context;
  const auto dscale = static_cast<float>(1.0 / tokens);  // the gradient of the mean loss
  const double loss = network_.forward(x.data(), inputs_.data(), targets_.data(), batch_, shape_.context, dscale);
  network_.backward(x.data(), g.data());
  return loss / tokens;
}

double Gpt::sweep(std::span<const std::uint8_t> stream, std::span<const std::uint32_t> windows, std::span<const float> x,
                  float* grad) {
  const double tokens = static_cast<double>(windows.size()) * shape_.context;
  const float dscale = grad != nullptr ? static_cast<float>(1.0 / tokens) : 0.0f;
  double loss = 0.0;
  for (std::size_t first = 0; first < windows.size(); first += static_cast<std::size_t>(batch_)) {
    const int count = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(batch_), windows.size() - first));
    gather(stream, windows.data() + first, count);
    loss += network_.forward(x.data(), inputs_.data(), targets_.data(), count, shape_.context, dscale);
    if (grad == nullptr) continue;
    // backward() overwrites: the first chunk writes grad, the others are summed into it.
    float* target = first == 0 ? grad : chunk_gradient_.data();
    network_.backward(x.data(), target);
    if (first > 0)
      for (std::size_t i = 0; i < chunk_gradient_.size(); ++i) grad[i] += chunk_gradient_[i];
  }
  return loss;
}

void Gpt::full_gradient(std::span<const float> x, std::span<float> g) {
  sweep(corpus_.train, train_eval_windows_, x, g.data());
}

Evaluation Gpt::evaluate(std::span<const float> x) {
  const double loss = sweep(corpus_.validation, validation_windows_, x, nullptr);
  return {loss / (static_cast<double>(validation_windows_.size()) * shape_.context), std::nullopt};
}

void Gpt::evaluate_on(const EvalData& data) {
  if (!data.labels.empty()) throw Error("--labels is for an mlp run's IDX pair; a gpt run evaluates a text file (--data)");
  corpus_.validation = load_text_stream(data.path, shape_.context);
  validation_windows_ = evaluation_windows(corpus_.validation.size(), eval_tokens_, shape_.context);
}

// ---------------------------------------------------------------------------------------------------
// Generation

void gpt_generate(const GptShape& shape, std::span<const float> params, std::string_view prompt, int tokens,
                  double temperature, std::uint64_t seed, const std::function<void(char)>& emit) {
  GptNetwork<float> network(shape, 1);
  std::vector<std::uint8_t> text{kEndOfDocument};
  text.insert(text.end(), prompt.begin(), prompt.end());
  Rng rng(seed, Stream::samples);
  std::vector<double> weights(static_cast<std::size_t>(shape.vocab));
  for (int i = 0; i < tokens; ++i) {
    const int T = static_cast<int>(std::min<std::size_t>(text.size(), static_cast<std::size_t>(shape.context)));
    network.forward(params.data(), text.data() + text.size() - static_cast<std::size_t>(T), nullptr, 1, T, 0.0f);
    const float* z = network.logits() + static_cast<std::size_t>(T - 1) * static_cast<std::size_t>(shape.vocab);  // (V)
    const int argmax = static_cast<int>(std::max_element(z, z + shape.vocab) - z);  // the first maximum
    int next = argmax;
    if (temperature > 0.0) {
      // softmax(z / temperature) in double, shifted by the maximum so no exp overflows; inverse CDF.
      double total = 0.0;
      for (int v = 0; v < shape.vocab; ++v)
        total += weights[static_cast<std::size_t>(v)] = std::exp((z[v] - z[argmax]) / temperature);
      double u = rng.uniform() * total;
      next = shape.vocab - 1;
      for (int v = 0; v < shape.vocab; ++v) {
        u -= weights[static_cast<std::size_t>(v)];
        if (u < 0.0) {
          next = v;
          break;
        }
      }
    }
    text.push_back(static_cast<std::uint8_t>(next));
    emit(static_cast<char>(next));
  }
}

std::string gpt_generate(const GptShape& shape, std::span<const float> params, std::string_view prompt, int tokens,
                         double temperature, std::uint64_t seed) {
  std::string generated;
  gpt_generate(shape, params, prompt, tokens, temperature, seed, [&](char byte) { generated.push_back(byte); });
  return generated;
}

// The registry's row (objective.hpp): gpt_layout's parameters; beside them the activations of a batch kept
// for backward, a lower bound of the network's arena (per token and block at least 12 width floats: normed
// inputs, q, k, v, attention output, the MLP's 4·width before and after ReLU²; heads · context attention
// probabilities; per token 256 logits), and the corpus, read whole by every process and held twice while it
// is split (its text and the two streams cut from it, text_corpus.hpp). A corpus that cannot be listed
// counts 0 here: the objective's loader then says why.
ObjectiveRow gpt_objective() {
  return {"gpt", "objective.gpt",
          [](const Config& c) {
            const GptConfig& g = c.objective.gpt;
            ObjectiveSize size;
            size.parameters = static_cast<double>(gpt_layout(gpt_shape(g), c.lmo.roles).size());
            const double tokens = static_cast<double>(g.batch) * g.context;
            size.extra_bytes =
                tokens * (g.layers * (12.0 * g.width + static_cast<double>(g.heads) * g.context) + 256.0) * sizeof(float);
            size.shape = "objective.gpt: layers = " + std::to_string(g.layers) + ", width = " + std::to_string(g.width) +
                         ", a batch of " + std::to_string(g.batch) + " x " + std::to_string(g.context) + " tokens";
            size.keys = {"objective.gpt.width", "objective.gpt.layers", "objective.gpt.context", "objective.gpt.batch",
                         "objective.gpt.heads"};
            const double corpus = static_cast<double>(corpus_bytes(g.corpus));
            size.data_bytes = 2.0 * corpus;
            size.data_key = "objective.gpt.corpus";
            size.data = "\"" + shown(g.corpus) + "\" holds " + fmt::format("{:.3g}", corpus) +
                        " bytes, read whole by every process and held twice while it is split (its text and the "
                        "training and validation streams)";
            return size;
          },
          [](const Config& c) -> std::unique_ptr<Objective> { return std::make_unique<Gpt>(c); },
          [](const Config& c) {
            const GptShape s = gpt_shape(c.objective.gpt);
            return std::map<std::string, std::int64_t>{
                {"layers", s.layers}, {"heads", s.heads}, {"width", s.width}, {"context", s.context}, {"vocab", s.vocab}};
          }};
}

}  // namespace ringmaster
