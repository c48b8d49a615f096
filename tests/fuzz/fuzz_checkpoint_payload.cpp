// libFuzzer target for the checkpoint's payload decoder (src/checkpoint.cpp): the bytes are a payload, as
// they follow a verified header (no CRC to get right), handed to decode_checkpoint_payload. Besides "a
// Checkpoint or a ringmaster::Error, never a crash, a hang or a sanitizer report", it checks the walk of
// CBOR heads that guards nlohmann's recursive reader (checkpoint_payload_problem) against nlohmann itself:
//   - what the walk accepts, nlohmann decodes: the walk is the one place a payload's structure is refused,
//     and what reaches nlohmann is bounded (nesting, lengths);
//   - what nlohmann's writer writes from that, the walk accepts: the limits allow every payload the
//     checkpoint writer (json::to_cbor) can produce.
// Seeds (tests/fuzz/corpus/checkpoint-payload/): real payloads (the checkpoint seeds' .cbor files) and
// payloads at and just past each limit: nesting 32 and 33 deep, 150,000 nested arrays, an indefinite
// length, a tag, simple value undefined, a string longer than what remains, an integer map key.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>

#include "ringmaster/checkpoint.hpp"
#include "ringmaster/error.hpp"

namespace {

[[noreturn]] void bug(const std::string& what) {
  std::fprintf(stderr, "fuzz_checkpoint_payload: BUG: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using json = nlohmann::json;
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  const std::optional<std::string> problem = ringmaster::checkpoint_payload_problem(payload);
  if (!problem) {
    json decoded;
    try {
      decoded = json::from_cbor(payload.begin(), payload.end());
    } catch (const json::exception& e) {
      bug(std::string("the walk accepted a payload nlohmann refuses: ") + e.what());
    }
    std::string written;
    json::to_cbor(decoded, written);
    if (const std::optional<std::string> refused = ringmaster::checkpoint_payload_problem(written))
      bug("the walk refuses what the writer writes: " + *refused);
  }
  try {
    const ringmaster::Checkpoint c = ringmaster::decode_checkpoint_payload(payload, "fuzz");
    if (problem) bug("decoded a payload the walk refused: " + *problem);
    if (c.workers < 1 || c.counters.size() != static_cast<std::size_t>(c.workers) || c.x.empty() ||
        c.x.size() != c.m.size())
      bug("accepted an inconsistent checkpoint");
  } catch (const ringmaster::Error&) {
    return 0;  // damaged or foreign: refused as it should be
  } catch (const std::exception& e) {
    bug(std::string(typeid(e).name()) + " escaped: " + e.what());
  }
  return 0;
}
