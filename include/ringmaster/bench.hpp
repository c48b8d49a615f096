// Micro-benchmarks behind `ringmaster bench ...` (docs/method.md §10).
#pragma once

#include <string>
#include <vector>

namespace ringmaster {

// `ringmaster bench lmo [--shape MxN]... [--json]`: seconds per spectral LMO for each back-end
// (newton-schulz, gram-newton-schulz, svd; polar-express, 5 steps) on each rows×cols shape ("256x1024"),
// against a plain cblas_sgemm measured in the same run, with the flops performed and how orthogonal each
// result is (spectral_check.hpp's polar_quality) on a gaussian input and on an "edge" one (singular values 1
// and 1e-3). No shapes = 64x64, 128x784, 256x64, 640x2560, 768x3072, 1024x1024. Prints a table, or with
// json = true {"results": [{"shape": [m, n], "backend", "gram_form", "seconds", "flops", "gflops",
// "sgemm_gflops", "ratio", "gaussian": {"orthogonality", "polar_distance"}, "edge": {...}}, ...]}. Throws
// Error naming a malformed shape. Returns the exit code (0).
int bench_lmo(const std::vector<std::string>& shapes, bool json);

// `ringmaster bench mlp [--hidden W1,W2]... [--batch B]... [--json]`: seconds per forward+backward of the
// Fashion-MNIST MLP (784 → hidden → 10) per minibatch, against PyTorch on one thread in the same run
// (scripts/bench_mlp_torch.py, run by `python`; "" for torch_script = the one in the source tree). No
// hidden = 128,128 512,256 1024; no batch = 128 64. Prints a table, or with json = true {"results":
// [{"hidden", "batch", "ringmaster_seconds", "torch_seconds", "ratio"}, ...]}. Error if torch cannot run.
// Batches are in [1, 60000] (the command line checks).
int bench_mlp(const std::vector<std::string>& hidden, const std::vector<int>& batches, bool json,
              const std::string& python, const std::string& torch_script);

// `ringmaster bench gpt [--model L,H,C,T,B]... [--json]`: forward+backward tokens/s of the gpt network on B
// full-context sequences against PyTorch on one thread in the same run (scripts/bench_gpt_torch.py over
// tools/gpt_torch.py, run by `python`; "" for torch_script = the one in the source tree), with the GFLOP/s
// as a fraction of sgemm's on c_fc's product and the server's update time (momentum + LMO of every block)
// beside one gradient's. No model = 4,4,128,128,8 and 2,4,64,64,16. Prints a table, or with json = true
// {"results": [{"layers", "heads", "width", "context", "batch", "torch_attention", "ringmaster_seconds",
// "torch_seconds", "ratio", "ringmaster_tokens_per_s", "torch_tokens_per_s", "flops_per_token", "gflops",
// "sgemm_gflops", "sgemm_fraction", "update_seconds", "update_over_gradient"}, ...]}. Error if torch cannot run.
int bench_gpt(const std::vector<std::string>& models, bool json, const std::string& python,
              const std::string& torch_script);

// `ringmaster bench server [-c FILE]... [--set section.key=value]... [--backend NAME]... [--threads N]...
// [--min-mflop F] [--json]`: seconds per server update (momentum + LMO of every block + apply,
// block_parallel_updates with min_flops, the size below which it keeps one thread) on each config's layout
// with each spectral back-end (lmo.backend; none = the config's own) and each number of threads, against
// one thread's sgemm on the largest block's product and against the first back-end's one-thread update
// with OpenBLAS's own threads, in the same interleaved rounds. No configs = configs/gpt_tiny.toml and
// configs/fashion_mnist.toml; no threads = 1 and max(2, the cores of this process's affinity). Prints a
// table with the load average, or with json = true {"cores", "load_before", "load_after", "results":
// [{"config", "blocks", "sgemm_gflops", "updates": [{"backend", "lmo_flops", "threads", "lanes", "seconds",
// "gflops", "sgemm_fraction", "speedup"}, ...], "blas_threads", "blas_threads_seconds",
// "blas_threads_speedup"}, ...]}. Throws Error on a bad config or back-end. Threads are in [1, 1024] and
// min_flops ≥ 0 (the command line checks).
int bench_server(const std::vector<std::string>& configs, const std::vector<std::string>& overrides,
                 const std::vector<std::string>& backends, const std::vector<int>& threads, double min_flops,
                 bool json);

}  // namespace ringmaster
