// `ringmaster bench server` (docs/benchmarks.md, "The server's update on several cores"): the MPI server's
// work per accepted gradient — momentum + the LMO of every block by its role's geometry, and x ← x + γ·lmo —
// on the layout of a config's objective, through block_parallel_updates with 1, 2, ... threads (the
// server.threads of a run) and with each spectral back-end asked for (lmo.backend: the config's own, or
// each --backend side by side), next to two references timed in the same interleaved rounds
// (bench_torch.hpp), so that load from other processes hits all of them:
//   sgemm      one thread's cblas_sgemm on the largest spectral block's biggest Newton–Schulz product,
//              (s×s)·(s×l), so GFLOP/s reads as a fraction of what BLAS does on this machine now;
//   blas       the one-thread update (LmoOptimizer::step) of the first back-end with OpenBLAS's own threads
//              on every core instead: the alternative to running blocks side by side (in rounds of its own).
// GFLOP/s counts the LMOs only (lmo_flops summed over the blocks: the flops each back-end performs); the
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

// One side of the rounds: a back-end on a number of threads.
struct Update {
  std::string backend;
  double flops = 0.0;  // lmo_flops summed over the blocks under this back-end
  int threads = 1;     // requested; `lanes` were used
  int lanes = 1;
  double seconds = 0.0;
};

struct Result {
  std::string config;
  std::size_t blocks = 0;
  std::vector<Update> updates;        // back-end by back-end, each with every thread count
  double blas_s = 0.0;                // the first back-end's one-thread update with OpenBLAS on blas_threads threads
  double blas_reference_s = 0.0;      // updates.front(), in blas_s's rounds
  int blas_threads = 1;
  double sgemm_s = 0.0, sgemm_flops = 0.0;
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

Result bench_config(const std::string& path, const std::vector<std::string>& overrides,
                    const std::vector<std::string>& backends, const std::vector<int>& threads, double min_flops) {
  const Config config = load_config(path, overrides);
  const ParamLayout layout = make_objective(config)->layout();
  std::vector<LmoOptions> options;  // one per back-end: the config's [lmo] with that lmo.backend
  for (const std::string& name : backends) {
    options.push_back(config.lmo.options());
    options.back().backend = parse_backend(name);
  }
  if (options.empty()) options.push_back(config.lmo.options());
  Result r;
  r.config = path;
  r.blocks = layout.blocks().size();

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
  const auto make_side = [&](const LmoOptions& o, const UpdateExecutorFactory& factory) {
    Side s{std::make_unique<LmoOptimizer>(layout, o, config.method.nesterov, config.lmo.scale),
           std::vector<float>(layout.size(), 0.01f), std::vector<float>(layout.size(), 0.0f), nullptr};
    s.executor = factory(*s.optimizer, s.x, 0);
    return s;
  };
  std::vector<Side> sides;
  for (const LmoOptions& o : options) {
    double flops = 0.0;
    for (const Block& b : layout.blocks()) flops += lmo_flops(b, o);
    for (int t : threads) {
      sides.push_back(make_side(o, block_parallel_updates(t, min_flops)));
      r.updates.push_back({to_string(o.backend), flops, t, block_parallel_lanes(layout, o, t, min_flops), 0.0});
    }
  }
  Side blas = make_side(options.front(), immediate_updates());
  r.blas_threads = *std::max_element(threads.begin(), threads.end());

  // sgemm on the largest spectral block's (s×s)·(s×l) (the whole layout's largest block if none is spectral).
  const auto largest = std::max_element(layout.blocks().begin(), layout.blocks().end(), [&](const Block& a, const Block& b) {
    return lmo_flops(a, options.front()) < lmo_flops(b, options.front());
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
  for (std::size_t i = 0; i < sides.size(); ++i) r.updates[i].seconds = seconds[i];
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
                 const std::vector<std::string>& backends, const std::vector<int>& threads_asked, double min_flops,
                 bool json) {
  const int cores = available_cores();
  std::vector<int> threads = threads_asked.empty() ? std::vector<int>{1, std::max(2, cores)} : threads_asked;
  for (const std::string& name : backends) {
    try {
      parse_backend(name);
    } catch (const Error& e) {
      throw Error("bench server: --backend: " + std::string(e.what()));
    }
  }
  const std::string load_before = load_average();
  openblas_set_num_threads(1);  // each block's LMO on one BLAS thread, as the server runs them
  std::vector<Result> results;
  for (const std::string& path :
       configs.empty() ? std::vector<std::string>{"configs/gpt_tiny.toml", "configs/fashion_mnist.toml"} : configs)
    results.push_back(bench_config(path, overrides, backends, threads, min_flops));
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
      nlohmann::ordered_json row{{"config", r.config}, {"blocks", r.blocks},
                                 {"sgemm_gflops", gflops(r.sgemm_flops, r.sgemm_s)}};
      row["updates"] = nlohmann::ordered_json::array();
      for (const Update& u : r.updates)
        row["updates"].push_back({{"backend", u.backend},
                                  {"lmo_flops", u.flops},
                                  {"threads", u.threads},
                                  {"lanes", u.lanes},
                                  {"seconds", u.seconds},
                                  {"gflops", gflops(u.flops, u.seconds)},
                                  {"sgemm_fraction", gflops(u.flops, u.seconds) / gflops(r.sgemm_flops, r.sgemm_s)},
                                  {"speedup", r.updates.front().seconds / u.seconds}});
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
              "GFLOP/s = LMO flops (as each back-end performs them) / time; of sgemm = that / one thread's sgemm\n"
              "GFLOP/s on the largest block's (s x s)(s x l); speedup = the first row's time / this row's (same rounds)\n",
              openblas_get_corename(), cores, cores == 1 ? "" : "s", load_before.c_str(), load_after.c_str());
  std::printf("%-30s %-18s %6s %8s %7s %10s %8s %8s %7s %8s\n", "config", "backend", "blocks", "MFLOP", "threads",
              "update ms", "GFLOP/s", "sgemm", "of it", "speedup");
  for (const Result& r : results) {
    const double sgemm = gflops(r.sgemm_flops, r.sgemm_s);
    for (const Update& u : r.updates)
      std::printf("%-30s %-18s %6zu %8.1f %4d(%d) %10.3f %8.1f %8.1f %7.2f %8.2f\n", r.config.c_str(),
                  u.backend.c_str(), r.blocks, u.flops * 1e-6, u.threads, u.lanes, u.seconds * 1e3,
                  gflops(u.flops, u.seconds), sgemm, gflops(u.flops, u.seconds) / sgemm,
                  r.updates.front().seconds / u.seconds);
    const Update& first = r.updates.front();
    std::printf("%-30s %-18s %6zu %8.1f %4s%-3d %10.3f %8.1f %8.1f %7.2f %8.2f\n", r.config.c_str(),
                first.backend.c_str(), r.blocks, first.flops * 1e-6, "blas", r.blas_threads, r.blas_s * 1e3,
                gflops(first.flops, r.blas_s), sgemm, gflops(first.flops, r.blas_s) / sgemm,
                r.blas_reference_s / r.blas_s);
  }
  std::printf("threads(n): n threads asked, in parentheses the ones the layout uses (block_parallel_lanes: one below\n"
              "%.1f MFLOP); blas N: the first back-end's blocks one after another with OpenBLAS's own threads on N\n"
              "cores, in rounds of their own after the others (its speedup against the first row in those rounds)\n",
              min_flops * 1e-6);
  return kExitOk;
}

}  // namespace ringmaster
