// `ringmaster bench mlp` (docs/benchmarks.md): seconds per forward+backward of the Fashion-MNIST MLP
// (docs/method.md §6) on one minibatch, Ringmaster's layers (src/objectives/mlp.cpp) against PyTorch, both
// on one thread, float32, the same shapes and batch. PyTorch runs as a co-process
// (scripts/bench_mlp_torch.py under Debian's /usr/bin/python3) that takes turns with the C++ side: round
// after round, K passes here, then K' passes there (each ≥ 20 ms), so load from other processes on the
// machine hits both; each side's figure is the median over the rounds (interleaved_seconds,
// bench_torch.hpp). ratio = torch seconds / ringmaster seconds.
//
// What is timed on each side: the network forward (Linear+ReLU layers, logits), the softmax cross-entropy
// of the mean loss and its backward into every weight and bias gradient. The batch is already float32 on
// both sides (converting the objective's uint8 pixels is one table lookup per pixel, not part of either).
#include <cblas.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "bench_torch.hpp"
#include "objectives/mlp.hpp"
#include "ringmaster/bench.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace {

std::vector<int> parse_hidden(const std::string& text) {
  std::vector<int> widths;
  std::stringstream in(text);
  std::string word;
  while (std::getline(in, word, ',')) {
    int w = 0;
    if (word.empty() || word.size() > 5 || !std::all_of(word.begin(), word.end(), ::isdigit) || (w = std::stoi(word)) <= 0)
      throw Error("bench mlp: bad --hidden '" + shown(text) + "'; expected widths like 128,128");
    widths.push_back(w);
  }
  return widths;
}

struct Result {
  std::vector<int> hidden;
  int batch;
  double ringmaster_s, torch_s;
};

Result bench_case(const std::vector<int>& hidden, int batch, TorchProcess& torch, std::mt19937& rng) {
  std::vector<int> widths{kFashionMnistSide * kFashionMnistSide};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(kFashionMnistClasses);
  const ParamLayout layout = mlp_layout(widths, RoleTable{});
  std::vector<float> params(layout.size()), grad(layout.size());
  std::uniform_real_distribution<float> uniform(-0.05f, 0.05f), pixel(0.0f, 1.0f);
  for (float& p : params) p = uniform(rng);
  MlpNetwork<float> network(widths, batch);
  std::generate_n(network.input(), static_cast<std::size_t>(batch) * static_cast<std::size_t>(widths[0]),
                  [&] { return pixel(rng); });  // forward reads its input, never writes it
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(batch));
  for (auto& l : labels) l = static_cast<std::uint8_t>(rng() % kFashionMnistClasses);
  const auto step = [&] {
    network.forward(params.data(), labels.data(), batch, 1.0f / static_cast<float>(batch));
    network.backward(params.data(), batch, grad.data(), false);
  };

  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict, PR 105329) on " " + std::to_string(w).
  std::string setup = "setup " + std::to_string(batch);
  for (int w : widths) setup.append(" ").append(std::to_string(w));
  if (torch.ask(setup) != "ok") throw Error("bench mlp: the PyTorch reference did not set up " + setup);

  const std::vector<double> seconds =
      interleaved_seconds({[&](int k) { return time_calls(step, k); },
                           [&](int k) { return std::stod(torch.ask("run " + std::to_string(k))); }});
  return {hidden, batch, seconds[0], seconds[1]};
}

std::string hidden_text(const std::vector<int>& hidden) {
  std::string s;
  for (int w : hidden) s.append(s.empty() ? "" : ",").append(std::to_string(w));
  return s.empty() ? "(none)" : s;
}

}  // namespace

int bench_mlp(const std::vector<std::string>& hidden_specs, const std::vector<int>& batches, bool json,
              const std::string& python, const std::string& torch_script) {
  std::vector<std::vector<int>> shapes;
  for (const std::string& spec : hidden_specs.empty() ? std::vector<std::string>{"128", "128,128", "512,256", "1024"}
                                                      : hidden_specs)
    shapes.push_back(parse_hidden(spec));
  const std::vector<int> sizes = batches.empty() ? std::vector<int>{128, 64} : batches;

  openblas_set_num_threads(1);  // one thread, as torch.set_num_threads(1) on the other side
  TorchProcess torch("bench mlp", python,
                     torch_script.empty() ? std::string(RINGMASTER_SOURCE_DIR) + "/scripts/bench_mlp_torch.py"
                                          : torch_script);
  std::mt19937 rng(0);
  std::vector<Result> results;
  for (const auto& hidden : shapes)
    for (int batch : sizes) results.push_back(bench_case(hidden, batch, torch, rng));

  if (json) {
    nlohmann::ordered_json out;
    out["results"] = nlohmann::ordered_json::array();
    for (const Result& r : results)
      out["results"].push_back({{"hidden", r.hidden},
                                {"batch", r.batch},
                                {"ringmaster_seconds", r.ringmaster_s},
                                {"torch_seconds", r.torch_s},
                                {"ratio", r.torch_s / r.ringmaster_s}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("MLP forward+backward per minibatch, one thread (OpenBLAS; torch %s), median of 11 interleaved\n"
              "rounds; ratio = torch / ringmaster (> 1: Ringmaster is faster)\n",
              python.c_str());
  std::printf("%-12s %6s %16s %14s %7s\n", "hidden", "batch", "ringmaster (us)", "torch (us)", "ratio");
  for (const Result& r : results)
    std::printf("%-12s %6d %16.1f %14.1f %7.2f\n", hidden_text(r.hidden).c_str(), r.batch, r.ringmaster_s * 1e6,
                r.torch_s * 1e6, r.torch_s / r.ringmaster_s);
  return kExitOk;
}

}  // namespace ringmaster
