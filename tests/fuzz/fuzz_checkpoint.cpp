// libFuzzer target for the checkpoint reader, parse_checkpoint (src/checkpoint.cpp): any bytes must end
// in a Checkpoint or a ringmaster::Error; another exception type, a crash, a hang or a sanitizer report is
// a bug.
//
// Two modes, chosen by the input's first bytes:
//   - input starting with the magic "RMCKPT1\n": a whole checkpoint file, passed as it is (exercises
//     the header checks: magic, length, CRC-32);
//   - anything else: a CBOR payload, wrapped here in a correct header (length and CRC-32) first.
//     Random mutations would almost never keep the CRC right, so without this wrapping the fuzzer
//     would never get past the checksum to the CBOR decoding and the structure checks.
// Seeds (tests/fuzz/corpus/checkpoint/): real checkpoint files and their payloads (the file minus its
// 20-byte header, `tail -c +21`), from tiny MPI runs with 1-3 workers, e.g.
//   mpirun -np 4 build/ringmaster train -c configs/quadratic.toml --set objective.rows=2
//     --set objective.cols=3 --set heterogeneity.base_s=0.001 --set run.method=rennala
//     --set method.batch=2 --set run.max_updates=40 --out DIR        # DIR/checkpoint.bin
// (ringmaster with 1 worker, ringmaster-pa with 2, rennala with 3: an empty and a full method_sum).
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <typeinfo>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/error.hpp"

namespace {

constexpr char kMagic[8] = {'R', 'M', 'C', 'K', 'P', 'T', '1', '\n'};  // as in src/checkpoint.cpp

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// The file write_checkpoint would write around `payload`: magic, length (8 bytes LE), CRC-32 (4 bytes LE).
std::string wrap(const std::uint8_t* payload, std::size_t size) {
  std::string bytes(kMagic, sizeof kMagic);
  put_le(bytes, size, 8);
  put_le(bytes, crc32(crc32(0L, Z_NULL, 0), payload, static_cast<uInt>(size)), 4);
  bytes.append(reinterpret_cast<const char*>(payload), size);
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const bool whole_file = size >= sizeof kMagic && std::memcmp(data, kMagic, sizeof kMagic) == 0;
  const std::string bytes = whole_file ? std::string(reinterpret_cast<const char*>(data), size) : wrap(data, size);
  try {
    const ringmaster::Checkpoint c = ringmaster::parse_checkpoint(bytes, "fuzz");
    // What the reader promises about a checkpoint it accepts (from_json's consistency checks).
    if (c.workers < 1 || c.counters.size() != static_cast<std::size_t>(c.workers) ||
        c.times.size() != c.counters.size() || c.x.empty() || c.x.size() != c.m.size()) {
      std::fprintf(stderr, "fuzz_checkpoint: BUG: accepted an inconsistent checkpoint\n");
      std::abort();
    }
  } catch (const ringmaster::Error&) {
    return 0;  // damaged or foreign: refused as it should be
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_checkpoint: BUG: %s escaped: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
  return 0;
}
