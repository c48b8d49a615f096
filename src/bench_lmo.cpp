// `ringmaster bench lmo` (docs/method.md §10): how fast each spectral LMO back-end is, and how orthogonal its
// result, against plain sgemm on the same machine in the same run, so the ratio says how close Newton–Schulz
// gets to the BLAS peak.
//
// What is counted, for a rows×cols block in its wide orientation s×l (s = min, l = max):
//   newton-schulz, gram-newton-schulz   the flops each performs (spectral_lmo_flops): the direct form
//                  ns_steps · (3s²l + s³), the Gram form 6s²l + 5S + 3(S + 2P) for 5 steps, S and P a
//                  symmetric square's and product's (symmetric_product_flops); gram-newton-schulz runs the
//                  direct form where the Gram form would cost more.
//   svd            the newton-schulz count divided by the svd time ("NS-equivalent" GFLOP/s), so its ratio
//                  compares directly with the newton-schulz row.
//   sgemm          C (s×l) = A (s×s) · B (s×l), 2s²l flops: the largest product of one direct step.
// Times are the fastest of repeated, interleaved ≥ 10 ms samples (≥ 0.3 s per measurement); BLAS
// uses its default thread count (all cores unless OPENBLAS_NUM_THREADS says otherwise).
// Orthogonality (spectral_check.hpp, in double, outside the timing) on two inputs: the timed gaussian one,
// and an "edge" one with one singular value 1 and the others 1e-3, so that after the Frobenius normalization
// they sit at the low end of the range polar-express maps into [0.8589, 1.1411] (docs/method.md §3): where
// the Gram form's squared condition number costs most.
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
#include "spectral_check.hpp"

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
// until each has ≥ 0.3 s and ≥ 5 samples, so the LMOs and their sgemm reference share the same stretch
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
  bool gram_form = false;  // gram-newton-schulz ran the Gram form on this shape
  double seconds, flops, gflops, sgemm_gflops;
  PolarQuality gaussian, edge;  // orthogonality on the timed gaussian input and on the edge one
};

const std::vector<SpectralBackend> kBackends{SpectralBackend::newton_schulz, SpectralBackend::gram_newton_schulz,
                                             SpectralBackend::svd};

// Times every spectral back-end and the reference sgemm on one shape, then measures their results.
std::vector<Result> bench_shape(Shape shape, std::mt19937& rng) {
  const int s = std::min(shape.rows, shape.cols);
  const int l = std::max(shape.rows, shape.cols);
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

  std::vector<LmoOptions> options;  // polar-express, 5 steps (docs/method.md §3 defaults), each back-end
  std::vector<LmoWorkspace> workspaces;
  for (SpectralBackend backend : kBackends) {
    LmoOptions o;
    o.backend = backend;
    options.push_back(o);
    workspaces.emplace_back(shape.rows, shape.cols, Geometry::spectral, o);
  }
  std::vector<std::function<void()>> timed{sgemm};
  for (LmoWorkspace& ws : workspaces) {
    timed.push_back([&] { lmo(Geometry::spectral, u.data(), d.data(), shape.rows, shape.cols, ws); });
  }
  const std::vector<double> seconds = seconds_per_call(timed);

  std::vector<double> edge_sigma(static_cast<std::size_t>(s), 1e-3);  // σ̂ = 1e-3 next to one σ̂ ≈ 1
  edge_sigma[0] = 1.0;
  const std::vector<float> edge = with_spectrum(shape.rows, shape.cols, edge_sigma, 3, nullptr);
  const double sgemm_gflops = 2.0 * s * s * static_cast<double>(l) / seconds[0] * 1e-9;
  const double newton_schulz_flops = spectral_lmo_flops(shape.rows, shape.cols, options.front());
  std::vector<Result> results;
  for (std::size_t i = 0; i < kBackends.size(); ++i) {
    Result r;
    r.shape = shape;
    r.backend = to_string(kBackends[i]);
    r.gram_form = uses_gram_form(shape.rows, shape.cols, options[i]);
    r.seconds = seconds[i + 1];
    r.flops = kBackends[i] == SpectralBackend::svd ? newton_schulz_flops
                                                   : spectral_lmo_flops(shape.rows, shape.cols, options[i]);
    r.gflops = r.flops / r.seconds * 1e-9;
    r.sgemm_gflops = sgemm_gflops;
    lmo(Geometry::spectral, u.data(), d.data(), shape.rows, shape.cols, workspaces[i]);
    r.gaussian = polar_quality(u.data(), d.data(), shape.rows, shape.cols);
    lmo(Geometry::spectral, edge.data(), d.data(), shape.rows, shape.cols, workspaces[i]);
    r.edge = polar_quality(edge.data(), d.data(), shape.rows, shape.cols);
    results.push_back(r);
  }
  return results;
}

void print_json(const std::vector<Result>& results) {
  nlohmann::ordered_json out;
  out["results"] = nlohmann::ordered_json::array();
  for (const Result& r : results) {
    const auto quality = [](const PolarQuality& q) {
      return nlohmann::ordered_json{{"orthogonality", q.orthogonality}, {"polar_distance", q.polar_distance}};
    };
    out["results"].push_back({{"shape", {r.shape.rows, r.shape.cols}},
                              {"backend", r.backend},
                              {"gram_form", r.gram_form},
                              {"seconds", r.seconds},
                              {"flops", r.flops},
                              {"gflops", r.gflops},
                              {"sgemm_gflops", r.sgemm_gflops},
                              {"ratio", r.gflops / r.sgemm_gflops},
                              {"gaussian", quality(r.gaussian)},
                              {"edge", quality(r.edge)}});
  }
  std::cout << out.dump(2) << "\n";
}

void print_table(const std::vector<Result>& results) {
  std::printf("LMO back-ends vs sgemm (OpenBLAS %s, %d threads), polar-express, 5 steps. MFLOP: performed (svd:\n"
              "newton-schulz's count, i.e. NS-equivalent); sgemm = (s×s)·(s×l); speedup = newton-schulz's seconds /\n"
              "this row's. orth = max|σ(O)² − 1| and polar = ‖O − UVᵀ‖₂ for O = −lmo(u): on the timed gaussian u,\n"
              "and (edge) on a u with singular values 1 and 1e-3 (the others).\n",
              openblas_get_corename(), openblas_get_num_threads());
  std::printf("%-10s %-22s %11s %9s %8s %7s %6s %8s %9s %9s %10s %10s\n", "shape", "backend", "seconds", "MFLOP",
              "GFLOP/s", "sgemm", "ratio", "speedup", "orth", "polar", "orth edge", "polar edge");
  double newton_schulz_seconds = 0.0;
  for (const Result& r : results) {
    if (r.backend == to_string(SpectralBackend::newton_schulz)) newton_schulz_seconds = r.seconds;
    const std::string shape = std::to_string(r.shape.rows) + "x" + std::to_string(r.shape.cols);
    const std::string backend =
        r.backend + (r.backend == to_string(SpectralBackend::gram_newton_schulz) && !r.gram_form ? " (d)" : "");
    std::printf("%-10s %-22s %11.4e %9.1f %8.1f %7.1f %6.3f %8.2f %9.2e %9.2e %10.2e %10.2e\n", shape.c_str(),
                backend.c_str(), r.seconds, r.flops * 1e-6, r.gflops, r.sgemm_gflops, r.gflops / r.sgemm_gflops,
                newton_schulz_seconds / r.seconds, r.gaussian.orthogonality, r.gaussian.polar_distance,
                r.edge.orthogonality, r.edge.polar_distance);
  }
  std::printf("(d): gram-newton-schulz runs the direct form on this shape (the Gram form would cost more flops)\n");
}

}  // namespace

int bench_lmo(const std::vector<std::string>& shapes, bool json) {
  const std::vector<std::string> names =
      shapes.empty() ? std::vector<std::string>{"64x64", "128x784", "256x64", "640x2560", "768x3072", "1024x1024"}
                     : shapes;
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
