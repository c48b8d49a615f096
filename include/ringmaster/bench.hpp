// Micro-benchmarks behind `ringmaster bench ...` (docs/method.md §10).
#pragma once

#include <string>
#include <vector>

namespace ringmaster {

// `ringmaster bench lmo [--shape MxN]... [--json]`: seconds per spectral LMO for each back-end
// (newton-schulz with polar-express, 5 steps; svd) on each rows×cols shape ("256x1024"), against a
// plain cblas_sgemm measured in the same run. No shapes = 64x64, 256x256, 1024x1024, 256x1024.
// Prints a table, or with json = true {"results": [{"shape": [m, n], "backend", "seconds", "gflops",
// "sgemm_gflops", "ratio"}, ...]}. Throws Error naming a malformed shape. Returns the exit code (0).
int bench_lmo(const std::vector<std::string>& shapes, bool json);

// `ringmaster bench mlp [--hidden W1,W2]... [--batch B]... [--json]`: seconds per forward+backward of the
// Fashion-MNIST MLP (784 → hidden → 10) per minibatch, against PyTorch on one thread in the same run
// (scripts/bench_mlp_torch.py, run by `python`; "" for torch_script = the one in the source tree). No
// hidden = 128,128 512,256 1024; no batch = 128 64. Prints a table, or with json = true {"results":
// [{"hidden", "batch", "ringmaster_seconds", "torch_seconds", "ratio"}, ...]}. Error if torch cannot run.
int bench_mlp(const std::vector<std::string>& hidden, const std::vector<int>& batches, bool json,
              const std::string& python, const std::string& torch_script);

}  // namespace ringmaster
