// `ringmaster bench server` (docs/benchmarks.md, "The server's update on several cores"): the MPI server's
// work per accepted gradient — momentum + the LMO of every block by its role's geometry, and x ← x + γ·lmo —
// on the layout of a config's objective, through block_parallel_updates with 1, 2, ... threads (the
// server.threads of a run), next to two references timed in the same interleaved rounds
// (bench_torch.hpp), so that load from other processes hits all of them:
//   sgemm      one thread's cblas_sgemm on the largest spectral block's biggest Newton–Schulz product,
//              (s×s)·(s×l), so GFLOP/s reads as a fraction of what BLAS does on this machine now;
//   blas       the one-thread update (LmoOptimizer::step) with OpenBLAS's own threads on every core
//              instead: the alternative to running blocks side by side (in rounds of its own).
// GFLOP/s counts the LMOs only (lmo_flops summed over the blocks: Newton–Schulz as implemented); the
// momentum and apply passes are memory traffic and are in the time, not in the count.
#include <cblas.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "bench_torch.hpp"
#include "ringmaster/bench.hpp"
#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"
#include "ringmaster/objective.hpp"
#include "ringmaster/update_executor.hpp"

namespace ringmaster {
namespace {

struct Result {
  std::string config;
  std::size_t blocks = 0;
  double flops = 0.0;                 // lmo_flops summed over the blocks
  std::vector<int> threads;           // requested; lanes[i] were used
  std::vector<int> lanes;
  std::vector<double> update_s;       // per entry of threads
  double blas_s = 0.0;                // one-thread update with OpenBLAS on blas_threads threads
  double blas_reference_s = 0.0;      // the first entry of threads, in blas_s's rounds
  int blas_threads = 1;
  double sgemm_s = 0.0, sgemm_flops = 0.0;
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

Result bench_config(const std::string& path, const std::vector<std::string>& overrides, const std::vector<int>& threads,
                    double min_flops) {
  const Config config = load_config(path, overrides);
  const ParamLayout layout = make_objective(config)->layout();
  const LmoOptions options = config.lmo.options();
  Result r;
  r.config = path;
  r.blocks = layout.blocks().size();
  for (const Block& b : layout.blocks()) r.flops += lmo_flops(b, options);

  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> g(layout.size());
  for (float& v : g) v = normal(rng);
  // One optimizer, x and m per side, so that no side works on another's buffers.
  struct Side {
    std::unique_ptr<LmoOptimizer> optimizer;
    std::vector<float> x, m;
    std::unique_ptr<UpdateExecutor> executor;
  };
  const auto make_side = [&](const UpdateExecutorFactory& factory) {
    Side s{std::make_unique<LmoOptimizer>(layout, options, config.method.nesterov, config.lmo.scale),
           std::vector<float>(layout.size(), 0.01f), std::vector<float>(layout.size(), 0.0f), nullptr};
    s.executor = factory(*s.optimizer, s.x, 0);
    return s;
  };
  std::vector<Side> sides;
  for (int t : threads) {
    sides.push_back(make_side(block_parallel_updates(t, min_flops)));
    r.threads.push_back(t);
    r.lanes.push_back(block_parallel_lanes(layout, options, t, min_flops));
  }
  Side blas = make_side(immediate_updates());
  r.blas_threads = *std::max_element(threads.begin(), threads.end());

  // sgemm on the largest spectral block's (s×s)·(s×l) (the whole layout's largest block if none is spectral).
  const auto largest = std::max_element(layout.blocks().begin(), layout.blocks().end(), [&](const Block& a, const Block& b) {
    return lmo_flops(a, options) < lmo_flops(b, options);
  });
  const int s = std::min(largest->rows, largest->cols), l = std::max(largest->rows, largest->cols);
  std::vector<float> a(static_cast<std::size_t>(s) * s, 0.5f), bm(static_cast<std::size_t>(s) * l, 0.25f),
      c(static_cast<std::size_t>(s) * l);
  r.sgemm_flops = 2.0 * s * s * l;

  const double stepsize = 1e-3, alpha = 0.1;
  const auto update = [&](Side& side) {
    return [&](int k) { return time_calls([&] { side.executor->lmo_step(side.m, g, stepsize, alpha); }, k); };
  };
  std::vector<std::function<double(int)>> timed;
  for (Side& side : sides) timed.push_back(update(side));
  timed.push_back([&](int k) {
    return time_calls(
        [&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, l, s, 1.0f, a.data(), s, bm.data(), l, 0.0f,
                      c.data(), l);
        },
        k);
  });
  const std::vector<double> seconds = interleaved_seconds(timed);
  r.update_s.assign(seconds.begin(), seconds.begin() + static_cast<std::ptrdiff_t>(sides.size()));
  r.sgemm_s = seconds[sides.size()];

  // OpenBLAS's own threads in rounds of their own, against the first side again: once used, its pool
  // threads keep spinning (sched_yield) for a while after each call and would take the core the block
  // threads need in the rounds above.
  const std::vector<double> blas_seconds = interleaved_seconds({update(sides.front()), [&](int k) {
    openblas_set_num_threads(r.blas_threads);
    const double seconds_k = time_calls([&] { blas.executor->lmo_step(blas.m, g, stepsize, alpha); }, k);
    openblas_set_num_threads(1);
    return seconds_k;
  }});
  r.blas_reference_s = blas_seconds[0];
  r.blas_s = blas_seconds[1];
  return r;
}

}  // namespace

int bench_server(const std::vector<std::string>& configs, const std::vector<std::string>& overrides,
                 const std::vector<int>& threads_asked, double min_flops, bool json) {
  const int cores = available_cores();
  std::vector<int> threads = threads_asked.empty() ? std::vector<int>{1, std::max(2, cores)} : threads_asked;
  const std::string load_before = load_average();
  openblas_set_num_threads(1);  // each block's LMO on one BLAS thread, as the server runs them
  std::vector<Result> results;
  for (const std::string& path :
       configs.empty() ? std::vector<std::string>{"configs/gpt_tiny.toml", "configs/fashion_mnist.toml"} : configs)
    results.push_back(bench_config(path, overrides, threads, min_flops));
  const std::string load_after = load_average();

  const auto gflops = [](double flops, double seconds) { return flops / seconds * 1e-9; };
  if (json) {
    nlohmann::ordered_json out;
    out["cores"] = cores;
    out["min_mflop"] = min_flops * 1e-6;
    out["load_before"] = load_before;
    out["load_after"] = load_after;
    out["results"] = nlohmann::ordered_json::array();
    for (const Result& r : results) {
      nlohmann::ordered_json row{{"config", r.config}, {"blocks", r.blocks}, {"lmo_flops", r.flops},
                                 {"sgemm_gflops", gflops(r.sgemm_flops, r.sgemm_s)}};
      row["updates"] = nlohmann::ordered_json::array();
      for (std::size_t i = 0; i < r.threads.size(); ++i)
        row["updates"].push_back({{"threads", r.threads[i]},
                                  {"lanes", r.lanes[i]},
                                  {"seconds", r.update_s[i]},
                                  {"gflops", gflops(r.flops, r.update_s[i])},
                                  {"sgemm_fraction", gflops(r.flops, r.update_s[i]) / gflops(r.sgemm_flops, r.sgemm_s)},
                                  {"speedup", r.update_s[0] / r.update_s[i]}});
      row["blas_threads"] = r.blas_threads;
      row["blas_threads_seconds"] = r.blas_s;
      row["blas_threads_speedup"] = r.blas_reference_s / r.blas_s;
      out["results"].push_back(row);
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("The server's update (momentum + LMO of every block + apply) per accepted gradient, median of 11\n"
              "interleaved rounds; OpenBLAS %s; %d core%s in this process's affinity; load average %s (before), %s (after)\n"
              "GFLOP/s = LMO flops (Newton-Schulz as implemented) / time; of sgemm = that / one thread's sgemm GFLOP/s\n"
              "on the largest block's (s x s)(s x l); speedup = the first row's time / this row's (same rounds)\n",
              openblas_get_corename(), cores, cores == 1 ? "" : "s", load_before.c_str(), load_after.c_str());
  std::printf("%-30s %6s %8s %7s %10s %8s %8s %7s %8s\n", "config", "blocks", "MFLOP", "threads", "update ms",
              "GFLOP/s", "sgemm", "of it", "speedup");
  for (const Result& r : results) {
    for (std::size_t i = 0; i < r.threads.size(); ++i)
      std::printf("%-30s %6zu %8.1f %4d(%d) %10.3f %8.1f %8.1f %7.2f %8.2f\n", r.config.c_str(), r.blocks, r.flops * 1e-6,
                  r.threads[i], r.lanes[i], r.update_s[i] * 1e3, gflops(r.flops, r.update_s[i]),
                  gflops(r.sgemm_flops, r.sgemm_s), gflops(r.flops, r.update_s[i]) / gflops(r.sgemm_flops, r.sgemm_s),
                  r.update_s[0] / r.update_s[i]);
    std::printf("%-30s %6zu %8.1f %4s%-3d %10.3f %8.1f %8.1f %7.2f %8.2f\n", r.config.c_str(), r.blocks, r.flops * 1e-6,
                "blas", r.blas_threads, r.blas_s * 1e3, gflops(r.flops, r.blas_s), gflops(r.sgemm_flops, r.sgemm_s),
                gflops(r.flops, r.blas_s) / gflops(r.sgemm_flops, r.sgemm_s), r.blas_reference_s / r.blas_s);
  }
  std::printf("threads(n): n threads asked, in parentheses the ones the layout uses (block_parallel_lanes: one below\n"
              "%.1f MFLOP); blas N: the blocks one after another with OpenBLAS's own threads on N cores, in rounds of\n"
              "their own after the others (its speedup against the first row in those rounds)\n",
              min_flops * 1e-6);
  return kExitOk;
}

}  // namespace ringmaster
