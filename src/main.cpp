#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "ringmaster/cli.hpp"

#if defined(__x86_64__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#endif

namespace {

#if defined(__x86_64__)
// OpenBLAS picks its kernels at load time from the CPU's identity. On a virtual machine that hides the
// CPU model (this project's own machines report "Intel(R) Xeon(R) Processor") OpenBLAS 0.3.21 falls back
// to its SSE3 "Prescott" kernels even when the CPU has AVX2 or AVX-512: measured, every sgemm, the
// Newton–Schulz LMO and the MLP's forward+backward then run 3–5× slower (docs/benchmarks.md). The
// choice is made before main and can only be changed through OPENBLAS_CORETYPE at load time, so when
// OpenBLAS fell back although the CPU supports better kernels and the user has not chosen a core type,
// the process starts itself again with the kernels the CPU supports. A user's OPENBLAS_CORETYPE is
// always respected.
const char* better_core_type() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return nullptr;
  const char* detected = openblas_get_corename();
  if (detected == nullptr || std::strcmp(detected, "Prescott") != 0) return nullptr;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}
#endif

}  // namespace

int main(int argc, char** argv) {
#if defined(__x86_64__)
  if (const char* core = better_core_type()) {
    ::setenv("OPENBLAS_CORETYPE", core, 1);
    ::setenv("RINGMASTER_OPENBLAS_FALLBACK", "Prescott", 1);  // for the log line (cli.cpp)
    ::execv("/proc/self/exe", argv);  // returns only on failure: then go on with the kernels we have
  }
  // Subnormal floats cost a microcode assist per operation in x86 SIMD, ~100× a normal one. A network
  // produces them (a softmax whose other classes fall below FLT_MIN after a large step, ringmaster-pa's
  // first steps): measured, a Fashion-MNIST simulation spent 99% of its time in sgemm on them and ran
  // 5× slower. Flush results to zero (FTZ) and read subnormal inputs as zero (DAZ), as ML frameworks
  // do: in this thread, and so in every thread it starts (they inherit the floating-point environment).
  // Values this small change no result the runtime reports.
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
#endif
  return ringmaster::cli_main(argc, argv);
}
