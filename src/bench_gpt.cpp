// `ringmaster bench gpt` (docs/benchmarks.md): forward+backward tokens per second of the gpt network
// (docs/method.md §6, src/objectives/gpt.cpp) against PyTorch (tools/gpt_torch.py's GPT, run by
// scripts/bench_gpt_torch.py under Debian's /usr/bin/python3 as a co-process), both on one thread, float32,
// the same shape, batch and full-context sequences, with random weights in every block. In the same
// interleaved rounds (bench_torch.hpp) it times two references:
//   sgemm   the model's main product, c_fc's (B·T, C)·(C, 4C), so that GFLOP/s (flops_per_token() · B · T per
//           step) reads as a fraction of what BLAS does on this machine now;
//   update  the server's work per accepted gradient: momentum + the LMO of every block by its role's
//           geometry (the default role table: Newton–Schulz on every matrix, a plain step on wte and
//           lm_head), LmoOptimizer::step, so update / gradient says how many workers one server can keep up
//           with.
// What is timed on our side: forward (embedding to loss) with dscale and backward into every gradient;
// on PyTorch's: model(inputs, targets) and torch.autograd.grad of the loss for every parameter.
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "bench_torch.hpp"
#include "objectives/blas.hpp"
#include "objectives/gpt.hpp"
#include "ringmaster/bench.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/optimizer.hpp"
#include "ringmaster/rng.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace {

struct Case {
  GptShape shape;
  int batch;
};

// "L,H,C,T,B": layers, heads, width, context, batch, positive, with an even head dimension C / H.
Case parse_model(const std::string& text) {
  const auto bad = [&] {
    return Error("bench gpt: bad --model '" + shown(text) +
                 "'; expected L,H,C,T,B (layers, heads, width, context, batch), e.g. 4,4,128,128,8, with an even "
                 "head dimension C/H");
  };
  std::vector<int> v;
  std::stringstream in(text);
  std::string word;
  while (std::getline(in, word, ',')) {
    if (word.empty() || word.size() > 5 || !std::all_of(word.begin(), word.end(), ::isdigit)) throw bad();
    v.push_back(std::stoi(word));
    if (v.back() <= 0) throw bad();
  }
  if (v.size() != 5) throw bad();
  const Case c{{v[0], v[1], v[2], v[3]}, v[4]};
  if (c.shape.width % c.shape.heads != 0 || (c.shape.width / c.shape.heads) % 2 != 0) throw bad();
  return c;
}

struct Result {
  Case c;
  std::string torch_attention;
  double ours_s, torch_s, sgemm_s, update_s;
  double flops_per_token;
};

Result bench_case(const Case& c, TorchProcess& torch) {
  const GptShape& s = c.shape;
  const int B = c.batch, T = s.context, C = s.width, N = B * T;
  const ParamLayout layout = gpt_layout(s, RoleTable{});
  std::vector<float> params(layout.size()), grad(layout.size());
  Rng rng(0, Stream::objective_data);
  for (const Block& b : layout.blocks())  // random in every block, as on the PyTorch side
    rng.fill_normal(layout.view(std::span<float>(params), b),
                    b.role == Role::embedding ? 1.0f : 1.0f / std::sqrt(float(b.cols)));
  std::vector<std::uint8_t> inputs(static_cast<std::size_t>(N)), targets(inputs.size());
  for (auto& t : inputs) t = static_cast<std::uint8_t>(rng.next());
  for (auto& t : targets) t = static_cast<std::uint8_t>(rng.next());
  GptNetwork<float> network(s, B);
  const auto step = [&] {
    network.forward(params.data(), inputs.data(), targets.data(), B, T, 1.0f / static_cast<float>(N));
    network.backward(params.data(), grad.data());
  };

  // sgemm on c_fc's product: out (N, 4C) = inp (N, C) · weightᵀ, weight (4C, C).
  std::vector<float> a(product(N, C)), w(product(4 * C, C)), out(product(N, 4 * C));
  rng.fill_normal(a, 1.0f);
  rng.fill_normal(w, 1.0f);
  const auto sgemm = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, 4 * C, C, 1.0f, a.data(), C, w.data(), C, 0.0f, out.data(),
                4 * C);
  };

  // The server's update: x ← x + γ · lmo(m), m ← β m + α g, over every block (default roles and LMO options).
  LmoOptimizer optimizer(layout, LmoOptions{}, false, StepScale::muon);
  std::vector<float> x = params, momentum(layout.size(), 0.0f);
  const auto update = [&] { optimizer.step(x, momentum, grad, 1e-3, 0.1); };

  const std::string setup = "setup " + std::to_string(s.layers) + " " + std::to_string(s.heads) + " " +
                            std::to_string(C) + " " + std::to_string(T) + " " + std::to_string(B);
  const std::string reply = torch.ask(setup);
  if (reply.rfind("ok ", 0) != 0) throw Error("bench gpt: the PyTorch reference did not set up " + setup);

  const std::vector<double> seconds = interleaved_seconds({
      [&](int k) { return time_calls(step, k); },
      [&](int k) { return std::stod(torch.ask("run " + std::to_string(k))); },
      [&](int k) { return time_calls(sgemm, k); },
      [&](int k) { return time_calls(update, k); },
  });
  return {c, reply.substr(3), seconds[0], seconds[1], seconds[2], seconds[3], network.flops_per_token()};
}

std::string model_text(const Case& c) {
  return std::to_string(c.shape.layers) + "," + std::to_string(c.shape.heads) + "," + std::to_string(c.shape.width) +
         "," + std::to_string(c.shape.context);
}

}  // namespace

int bench_gpt(const std::vector<std::string>& models, bool json, const std::string& python,
              const std::string& torch_script) {
  std::vector<Case> cases;
  for (const std::string& m : models.empty() ? std::vector<std::string>{"4,4,128,128,8", "2,4,64,64,16"} : models)
    cases.push_back(parse_model(m));

  openblas_set_num_threads(1);  // one thread, as torch.set_num_threads(1) on the other side
  TorchProcess torch("bench gpt", python,
                     torch_script.empty() ? std::string(RINGMASTER_SOURCE_DIR) + "/scripts/bench_gpt_torch.py"
                                          : torch_script);
  std::vector<Result> results;
  for (const Case& c : cases) results.push_back(bench_case(c, torch));

  const auto tokens = [](const Result& r) { return static_cast<double>(r.c.batch) * r.c.shape.context; };
  const auto gflops = [&](const Result& r) { return r.flops_per_token * tokens(r) / r.ours_s * 1e-9; };
  const auto sgemm_gflops = [](const Result& r) {
    const double N = static_cast<double>(r.c.batch) * r.c.shape.context, C = r.c.shape.width;
    return 2.0 * N * 4.0 * C * C / r.sgemm_s * 1e-9;
  };
  if (json) {
    nlohmann::ordered_json out;
    out["results"] = nlohmann::ordered_json::array();
    for (const Result& r : results)
      out["results"].push_back({{"layers", r.c.shape.layers},
                                {"heads", r.c.shape.heads},
                                {"width", r.c.shape.width},
                                {"context", r.c.shape.context},
                                {"batch", r.c.batch},
                                {"torch_attention", r.torch_attention},
                                {"ringmaster_seconds", r.ours_s},
                                {"torch_seconds", r.torch_s},
                                {"ratio", r.torch_s / r.ours_s},
                                {"ringmaster_tokens_per_s", tokens(r) / r.ours_s},
                                {"torch_tokens_per_s", tokens(r) / r.torch_s},
                                {"flops_per_token", r.flops_per_token},
                                {"gflops", gflops(r)},
                                {"sgemm_gflops", sgemm_gflops(r)},
                                {"sgemm_fraction", gflops(r) / sgemm_gflops(r)},
                                {"update_seconds", r.update_s},
                                {"update_over_gradient", r.update_s / r.ours_s}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("GPT forward+backward per minibatch of B full-context sequences, one thread (OpenBLAS %s; torch %s),\n"
              "median of 11 interleaved rounds; ratio = torch / ringmaster (> 1: Ringmaster is faster); GFLOP/s from\n"
              "nanochat's FLOPs per token; sgemm = c_fc's (B·T, C)·(C, 4C); update = momentum + LMO of every block\n",
              openblas_get_corename(), python.c_str());
  std::printf("%-14s %5s %10s %10s %6s %11s %11s %8s %8s %6s %10s %8s\n", "model L,H,C,T", "batch", "ours (ms)",
              "torch (ms)", "ratio", "ours tok/s", "torch tok/s", "GFLOP/s", "sgemm", "of it", "update ms",
              "upd/grad");
  for (const Result& r : results)
    std::printf("%-14s %5d %10.2f %10.2f %6.2f %11.0f %11.0f %8.1f %8.1f %6.2f %10.2f %8.2f\n", model_text(r.c).c_str(),
                r.c.batch, r.ours_s * 1e3, r.torch_s * 1e3, r.torch_s / r.ours_s, tokens(r) / r.ours_s,
                tokens(r) / r.torch_s, gflops(r), sgemm_gflops(r), gflops(r) / sgemm_gflops(r), r.update_s * 1e3,
                r.update_s / r.ours_s);
  std::printf("PyTorch attention: %s\n", results.empty() ? "-" : results.front().torch_attention.c_str());
  return kExitOk;
}

}  // namespace ringmaster
