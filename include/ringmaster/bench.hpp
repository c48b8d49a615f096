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

}  // namespace ringmaster
