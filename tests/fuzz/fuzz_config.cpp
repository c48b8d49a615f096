// libFuzzer target for the config loader, load_config (src/config.cpp): any input must end in a Config
// or a ringmaster::Error; another exception type, a crash, a hang or a sanitizer report is a bug.
//
// Input: the config file's text, then, optionally, NUL-separated `--set` override strings:
//
//   <TOML text> \0 <section.key=value> \0 <section.key=value> ...
//
// An empty TOML part means "no file" (path = "", defaults only). An override chunk "!N" (digits) is not an
// override but the number of MPI workers, load_config's workers_from_engine. The seeds in
// tests/fuzz/corpus/config/ are plain TOML files (no NUL: file mode) and a few files with overrides.
//
// The text is written to a memfd and read back through /proc/self/fd/N: load_config reads a path, and
// this keeps the fuzzer off the disk without changing src/.
//
// A loaded config must also survive the trip through to_toml, which is how <run>/config.toml is
// written and how --resume reads it back.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "ringmaster/config.hpp"
#include "ringmaster/error.hpp"

namespace {

// A file in memory, rewritten for every input.
class MemFile {
 public:
  MemFile() {
    fd_ = memfd_create("fuzz.toml", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("fuzz_config: memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }

  const std::string& write(std::string_view text) {
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      std::perror("fuzz_config: writing the memfd");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

[[noreturn]] void bug(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_config: BUG: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static MemFile file;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // Split: the TOML text up to the first NUL, then the chunks between NULs.
  const std::size_t end_of_file = input.find('\0');
  const std::string_view text = input.substr(0, end_of_file);
  std::vector<std::string> overrides;
  int workers_from_engine = 0;
  for (std::size_t at = end_of_file; at != std::string_view::npos && at < input.size();) {
    const std::size_t next = input.find('\0', at + 1);
    const std::string_view chunk = input.substr(at + 1, next == std::string_view::npos ? next : next - at - 1);
    at = next;
    if (chunk.size() >= 2 && chunk.size() <= 8 && chunk[0] == '!' &&
        chunk.substr(1).find_first_not_of("0123456789") == std::string_view::npos) {
      workers_from_engine = std::stoi(std::string(chunk.substr(1)));  // < 10^7 workers
      continue;
    }
    overrides.emplace_back(chunk);
  }

  const std::string path = text.empty() ? std::string() : file.write(text);
  ringmaster::Config config;
  try {
    config = ringmaster::load_config(path, overrides, workers_from_engine);
  } catch (const ringmaster::Error&) {
    return 0;  // bad input, reported as it should be
  } catch (const std::exception& e) {
    bug(typeid(e).name(), e.what());
  }

  // Round trip: the resolved config, written by to_toml and loaded back, is the same config.
  const std::string resolved = ringmaster::to_toml(config);
  try {
    if (ringmaster::load_config(file.write(resolved), {}) != config) bug("to_toml round trip", "differs:\n" + resolved);
  } catch (const std::exception& e) {
    bug("to_toml output does not load back", std::string(e.what()) + "\n" + resolved);
  }
  return 0;
}
