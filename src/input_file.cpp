#include "ringmaster/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace ringmaster {

InputFile::InputFile(const std::filesystem::path& path, std::uint64_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    status_ = Status::cannot_open;
    error_ = errno;
    return;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    status_ = Status::cannot_open;
    error_ = errno;
  } else if (S_ISDIR(info.st_mode)) {
    status_ = Status::directory;
  } else if (!S_ISREG(info.st_mode)) {
    status_ = Status::not_regular;
  } else if (static_cast<std::uint64_t>(info.st_size) > limit) {
    status_ = Status::too_large;
    size_ = static_cast<std::uint64_t>(info.st_size);
  } else {
    fd_ = fd;
    size_ = static_cast<std::uint64_t>(info.st_size);
    return;
  }
  ::close(fd);
}

InputFile::InputFile(InputFile&& other) noexcept
    : fd_(other.fd_), status_(other.status_), error_(other.error_), size_(other.size_) {
  other.fd_ = -1;
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::size_t> InputFile::read(void* to, std::size_t size) {
  for (;;) {
    const ssize_t got = ::read(fd_, to, size);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) {
      error_ = errno;
      return std::nullopt;
    }
  }
}

bool InputFile::read_at(void* to, std::size_t size, std::uint64_t offset) {
  auto* bytes = static_cast<char*>(to);
  error_ = 0;
  for (std::size_t done = 0; done < size;) {
    const ssize_t got = ::pread(fd_, bytes + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) error_ = errno;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

BoundedRead read_bounded(const std::filesystem::path& path, std::size_t limit) {
  using Status = BoundedRead::Status;
  InputFile file(path, limit);
  switch (file.status()) {
    case InputFile::Status::ok: break;
    case InputFile::Status::cannot_open: return {Status::cannot_open, file.error(), {}};
    case InputFile::Status::directory: return {Status::directory, 0, {}};
    case InputFile::Status::not_regular: return {Status::not_regular, 0, {}};
    case InputFile::Status::too_large: return {Status::too_large, 0, {}};
  }
  BoundedRead result;
  result.text.reserve(static_cast<std::size_t>(file.size()));  // filled once, not doubled as it grows
  char buffer[65536];
  for (;;) {
    const std::optional<std::size_t> got = file.read(buffer, sizeof buffer);
    if (!got) return {Status::cannot_read, file.error(), {}};
    if (*got == 0) break;
    result.text.append(buffer, *got);
    if (result.text.size() > limit) return {Status::too_large, 0, {}};  // it grew since fstat
  }
  return result;
}

}  // namespace ringmaster
