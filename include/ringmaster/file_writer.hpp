// One way to write a file (STYLE.md): every file the product writes goes through here. Every write(2),
// fsync and close is checked, and a failure is an Error naming the file and the errno message, so a
// full disk or a quota stops a run loudly instead of leaving empty or torn files behind (docs/method.md §8).
//
// Two kinds of file:
//   - whole files (config.toml, summary.json, workers.csv, checkpoint.bin, run_id) are replaced
//     atomically: a reader sees the previous complete file, or none, or the new one;
//   - CSV logs (events.csv, eval.csv, delays.csv) are append-only and hold whole rows only: rows are
//     buffered and written whole, a failed write is cut back to the last whole row, and a resumed run
//     cuts each file back to the size its checkpoint recorded.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace ringmaster {

// Replaces `path` with `bytes`: written to `path`.tmp with checked write(2) calls, fsync'ed, closed,
// renamed over `path`, and the directory fsync'ed. On any failure throws Error naming the file and
// errno; the temporary file is unlinked and `path` keeps what it held before (or stays absent).
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);
// The same with the file's bytes given as consecutive pieces, written in order: a large file made of a
// small encoded part and big arrays is written without first copying them into one buffer.
void write_file_atomically(const std::filesystem::path& path, std::span<const std::string_view> pieces);

// fsync of a directory, so that a rename or a creation inside it survives a crash. Throws Error.
void sync_directory(const std::filesystem::path& dir);

// An append-only CSV file that only ever holds whole rows.
class CsvFile {
 public:
  // Creates `path` holding `header` (replacing it if it exists), atomically, and opens it to append.
  static CsvFile create(const std::filesystem::path& path, std::string_view header);
  // Opens an existing `path` to append, first cutting it back to `size` bytes: the size a checkpoint
  // recorded, so rows written after that checkpoint (and a row torn by a kill) are dropped. Throws
  // Error when the file is missing or shorter than `size` (the run directory was tampered with).
  static CsvFile resume(const std::filesystem::path& path, std::uint64_t size);

  CsvFile(CsvFile&& other) noexcept;
  CsvFile& operator=(CsvFile&& other) noexcept;
  CsvFile(const CsvFile&) = delete;
  CsvFile& operator=(const CsvFile&) = delete;
  // Writes what is buffered (best effort: errors are swallowed here, close() reports them) and closes.
  ~CsvFile();

  // Buffers one row; `format` must end the row with '\n'. Buffered rows are written once they fill
  // kBufferBytes, so per-arrival logging costs a format into memory.
  template <class... Args>
  void row(fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(pending_), format, std::forward<Args>(args)...);
    if (pending_.size() >= kBufferBytes) flush();
  }
  // Buffers whole rows that `write(std::string& buffer)` appends to the buffer (each ending in '\n'):
  // many rows formatted at once, without a copy in between.
  template <class Write>
  void rows(Write&& write) {
    write(pending_);
    if (pending_.size() >= kBufferBytes) flush();
  }
  // Writes the buffered rows. On failure the file is cut back to the rows it held before and Error is
  // thrown, naming the file and errno.
  void flush();
  // flush() and fsync: the rows so far survive a crash of the machine, not only of the process.
  void sync();
  // sync() and close, checked.
  void close();

  // Bytes of whole rows on disk (what a checkpoint records): call after flush().
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

  static constexpr std::size_t kBufferBytes = 1 << 20;

 private:
  CsvFile(std::filesystem::path path, int fd, std::uint64_t size);

  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;  // bytes on disk, all of them whole rows
  std::string pending_;     // whole rows not yet written
};

}  // namespace ringmaster
