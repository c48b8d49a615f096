// One reader policy for every file the binary reads (the config, a checkpoint, the run id, a trace, the
// corpus, the data set): a file is opened without blocking (O_NONBLOCK: opening a FIFO does not wait for a
// writer), examined on the open descriptor (no race between a check and the open), read only if it is a
// regular file (a directory, FIFO, device or socket is refused: `-c /dev/zero` must not read until memory
// runs out, a FIFO must not hang every rank), and only if its size is within a limit the caller states.
// Nothing is thrown here: each caller words the error for its kind of file and names it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace ringmaster {

class InputFile {
 public:
  enum class Status { ok, cannot_open, directory, not_regular, too_large };

  // Opens `path` for reading under the policy above; status() says whether it may be read.
  InputFile(const std::filesystem::path& path, std::uint64_t limit);
  InputFile(InputFile&& other) noexcept;
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile();

  Status status() const { return status_; }
  int error() const { return error_; }         // errno, for cannot_open
  std::uint64_t size() const { return size_; }  // fstat's size, when the file is open
  int fd() const { return fd_; }                // -1 unless status() is ok

  // Up to `size` bytes from the current position, fewer only at the end of the file (0 there); nullopt
  // when read(2) fails, with errno in error().
  std::optional<std::size_t> read(void* to, std::size_t size);
  // Exactly `size` bytes at `offset`, or false (a read error: errno in error(); or the file ended first:
  // error() is 0).
  bool read_at(void* to, std::size_t size, std::uint64_t offset);

 private:
  int fd_ = -1;
  Status status_ = Status::ok;
  int error_ = 0;
  std::uint64_t size_ = 0;
};

// A small input file read whole under the policy, stopping past `limit` bytes even where fstat cannot
// tell the size (/proc). Nothing is thrown: the caller words the error for its kind of file.
struct BoundedRead {
  enum class Status { ok, cannot_open, directory, not_regular, too_large, cannot_read };
  Status status = Status::ok;
  int error = 0;     // errno, for cannot_open and cannot_read
  std::string text;  // the whole file, when ok
};
BoundedRead read_bounded(const std::filesystem::path& path, std::size_t limit);

}  // namespace ringmaster
