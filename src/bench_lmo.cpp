// `ringmaster bench lmo` (docs/method.md §10): how fast each spectral LMO back-end is, against plain sgemm on
// the same machine in the same run, so the ratio says how close Newton–Schulz gets to the BLAS peak.
//
// What is counted, for a rows×cols block in its wide orientation s×l (s = min, l = max):
//   newton-schulz  ns_steps · (4s²l + 2s³) flops: per step A = X Xᵀ (2s²l), A² (2s³), (bA + cA²)X
//                  (2s²l), counted as full gemms whatever symmetry the implementation exploits.
//   svd            the same Newton–Schulz count divided by the svd time ("NS-equivalent" GFLOP/s),
//                  so its ratio compares directly with the newton-schulz row: ratio_ns / ratio_svd
//                  is how many times faster Newton–Schulz is.
//   sgemm          C (s×l) = A (s×s) · B (s×l), 2s²l flops: the largest product of one NS step.
// Times are the fastest of repeated, interleaved ≥ 10 ms samples (≥ 0.3 s per measurement); BLAS
// uses its default thread count (all cores unless OPENBLAS_NUM_THREADS says otherwise).
#include "ringmaster/bench.hpp"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "ringmaster/error.hpp"
#include "ringmaster/lmo.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {

namespace {

struct Shape {
  int rows, cols;
};

// "MxN" with positive integers M, N.
Shape parse_shape(const std::string& text) {
  const auto bad = [&] { return Error("bench lmo: bad shape '" + shown(text) + "'; expected MxN, e.g. 256x1024"); };
  const std::size_t x = text.find('x');
  if (x == std::string::npos || x == 0 || x + 1 == text.size()) throw bad();
  const auto number = [&](const std::string& digits) {
    if (digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw bad();
    }
    const int value = std::stoi(digits);
    if (value <= 0) throw bad();
    return value;
  };
  return {number(text.substr(0, x)), number(text.substr(x + 1))};
}

// Seconds per call of each function: the fastest of many samples, i.e. the one least disturbed by
// other processes on the machine (the median moves with their load). Calls are batched so every
// sample lasts ≥ 10 ms: the clock's overhead vanishes even for 64×64, and a short sgemm is not given
// more chances than a long LMO to land in a quiet moment. The functions take turns, one sample each,
// until each has ≥ 0.3 s and ≥ 5 samples, so the LMO and its sgemm reference share the same stretch
// of time.
std::vector<double> seconds_per_call(const std::vector<std::function<void()>>& fs) {
  using clock = std::chrono::steady_clock;
  const auto since = [](clock::time_point t0) { return std::chrono::duration<double>(clock::now() - t0).count(); };
  std::vector<int> batch;
  for (const auto& f : fs) {
    f();  // warm-up: first touch of buffers, BLAS thread start-up
    const auto t0 = clock::now();
    f();
    batch.push_back(std::max(1, static_cast<int>(10e-3 / std::max(since(t0), 1e-9))));
  }
  std::vector<std::vector<double>> samples(fs.size());
  std::vector<double> total(fs.size(), 0.0);
  const auto done = [&](std::size_t i) { return total[i] >= 0.3 && samples[i].size() >= 5; };
  for (bool busy = true; busy;) {
    busy = false;
    for (std::size_t i = 0; i < fs.size(); ++i) {
      if (done(i)) continue;
      busy = true;
      const auto t0 = clock::now();
      for (int k = 0; k < batch[i]; ++k) fs[i]();
      const double t = since(t0);
      total[i] += t;
      samples[i].push_back(t / batch[i]);
    }
  }
  std::vector<double> fastest;
  for (const auto& v : samples) fastest.push_back(*std::min_element(v.begin(), v.end()));
  return fastest;
}

struct Result {
  Shape shape;
  std::string backend;
  double seconds, gflops, sgemm_gflops;
};

// Times both spectral back-ends and the reference sgemm on one shape.
std::vector<Result> bench_shape(Shape shape, std::mt19937& rng) {
  const int s = std::min(shape.rows, shape.cols);
  const int l = std::max(shape.rows, shape.cols);
  const double ds = s, dl = l;
  const std::size_t n = static_cast<std::size_t>(shape.rows) * static_cast<std::size_t>(shape.cols);
  std::normal_distribution<float> gaussian(0.0f, 1.0f);
  std::vector<float> u(n), d(n);  // (rows, cols) LMO input and output
  for (float& v : u) v = gaussian(rng);

  // Reference: C (s×l) = A (s×s) · B (s×l).
  std::vector<float> a(static_cast<std::size_t>(s) * static_cast<std::size_t>(s));
  std::vector<float> c(n);
  for (float& v : a) v = gaussian(rng);
  const auto sgemm = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s, l, s, 1.0f, a.data(), s, u.data(), l, 0.0f, c.data(), l);
  };

  const LmoOptions ns_options{};  // newton-schulz, polar-express, 5 steps (docs/method.md §3 defaults)
  LmoOptions svd_options = ns_options;
  svd_options.backend = SpectralBackend::svd;
  LmoWorkspace ns_ws(shape.rows, shape.cols, Geometry::spectral, ns_options);
  LmoWorkspace svd_ws(shape.rows, shape.cols, Geometry::spectral, svd_options);
  const auto lmo_with = [&](LmoWorkspace& ws) {
    return [&] { lmo(Geometry::spectral, u.data(), d.data(), shape.rows, shape.cols, ws); };
  };
  const std::vector<double> seconds = seconds_per_call({sgemm, lmo_with(ns_ws), lmo_with(svd_ws)});

  const double sgemm_gflops = 2.0 * ds * ds * dl / seconds[0] * 1e-9;
  const double ns_flops = ns_options.ns_steps * (4.0 * ds * ds * dl + 2.0 * ds * ds * ds);
  std::vector<Result> results;
  results.push_back({shape, to_string(SpectralBackend::newton_schulz), seconds[1], ns_flops / seconds[1] * 1e-9,
                     sgemm_gflops});
  results.push_back({shape, to_string(SpectralBackend::svd), seconds[2], ns_flops / seconds[2] * 1e-9, sgemm_gflops});
  return results;
}

void print_json(const std::vector<Result>& results) {
  nlohmann::ordered_json out;
  out["results"] = nlohmann::ordered_json::array();
  for (const Result& r : results) {
    out["results"].push_back({{"shape", {r.shape.rows, r.shape.cols}},
                              {"backend", r.backend},
                              {"seconds", r.seconds},
                              {"gflops", r.gflops},
                              {"sgemm_gflops", r.sgemm_gflops},
                              {"ratio", r.gflops / r.sgemm_gflops}});
  }
  std::cout << out.dump(2) << "\n";
}

void print_table(const std::vector<Result>& results) {
  std::printf("LMO back-ends vs sgemm (OpenBLAS, %d threads). GFLOP/s = 5·(4s²l + 2s³)/seconds for the\n"
              "wide s×l orientation (svd: the same NS count, i.e. NS-equivalent); sgemm = (s×s)·(s×l).\n",
              openblas_get_num_threads());
  std::printf("%-12s %-14s %12s %10s %14s %7s\n", "shape", "backend", "seconds", "GFLOP/s", "sgemm GFLOP/s", "ratio");
  for (const Result& r : results) {
    const std::string shape = std::to_string(r.shape.rows) + "x" + std::to_string(r.shape.cols);
    std::printf("%-12s %-14s %12.4e %10.1f %14.1f %7.3f\n", shape.c_str(), r.backend.c_str(), r.seconds, r.gflops,
                r.sgemm_gflops, r.gflops / r.sgemm_gflops);
  }
}

}  // namespace

int bench_lmo(const std::vector<std::string>& shapes, bool json) {
  const std::vector<std::string> names =
      shapes.empty() ? std::vector<std::string>{"64x64", "256x256", "1024x1024", "256x1024"} : shapes;
  std::vector<Shape> parsed;
  for (const std::string& name : names) parsed.push_back(parse_shape(name));  // all errors before any timing

  std::mt19937 rng(0);
  std::vector<Result> results;
  for (const Shape& shape : parsed) {
    for (Result& r : bench_shape(shape, rng)) results.push_back(std::move(r));
  }
  if (json) {
    print_json(results);
  } else {
    print_table(results);
  }
  return kExitOk;
}

}  // namespace ringmaster
