#include "ringmaster/cli.hpp"

#if defined(__SSE3__) || defined(__x86_64__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#endif

int main(int argc, char** argv) {
#if defined(__SSE3__) || defined(__x86_64__)
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
