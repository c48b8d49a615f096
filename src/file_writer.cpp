#include "ringmaster/file_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ringmaster/error.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace fs = std::filesystem;

namespace {

RuntimeFailure io_error(const std::string& what, const fs::path& path, int error) {
  return RuntimeFailure("cannot " + what + " " + shown_path(path) + ": " + std::strerror(error));
}

// write(2) until all of `bytes` is written: a short write (a signal, a filling disk) continues where it
// stopped, and the next call reports the error (ENOSPC, EFBIG, EDQUOT, EIO). Returns 0 or errno.
int write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;  // no progress and no error: do not spin
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

int fsync_retrying(int fd) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return errno;
  }
  return 0;
}

}  // namespace

void sync_directory(const fs::path& dir) {
  const fs::path d = dir.empty() ? fs::path(".") : dir;
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw io_error("open directory", d, errno);
  const int error = fsync_retrying(fd);
  ::close(fd);
  if (error != 0) throw io_error("sync directory", d, error);
}

void write_file_atomically(const fs::path& path, std::string_view bytes) {
  write_file_atomically(path, std::span<const std::string_view>(&bytes, 1));
}

void write_file_atomically(const fs::path& path, std::span<const std::string_view> pieces) {
  const fs::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw io_error("create", tmp, errno);
  int error = 0;
  for (std::size_t i = 0; i < pieces.size() && error == 0; ++i) error = write_all(fd, pieces[i]);
  if (error == 0) error = fsync_retrying(fd);
  // close() can report a deferred write error (NFS, quotas): it counts like any other.
  if (::close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(tmp.c_str());
    throw io_error("write", path, error);
  }
  sync_directory(path.parent_path());
}

CsvFile::CsvFile(fs::path path, int fd, std::uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {
  pending_.reserve(kBufferBytes + 4096);
}

CsvFile CsvFile::create(const fs::path& path, std::string_view header) {
  write_file_atomically(path, header);  // never a 0-byte or headerless file, even if killed right here
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) throw io_error("open", path, errno);
  return CsvFile(path, fd, header.size());
}

CsvFile CsvFile::resume(const fs::path& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw io_error("open", path, errno);
  CsvFile file(path, fd, size);  // closes fd if anything below throws
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw io_error("stat", path, errno);
  if (!S_ISREG(st.st_mode)) throw Error(shown_path(path) + ": not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) < size)
    throw Error(shown_path(path) + ": holds " + std::to_string(st.st_size) + " bytes, fewer than the " +
                std::to_string(size) + " its checkpoint recorded (the run directory was changed since)");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw io_error("cut back", path, errno);
  return file;
}

CsvFile::CsvFile(CsvFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), size_(other.size_), pending_(std::move(other.pending_)) {
  other.fd_ = -1;
}

CsvFile& CsvFile::operator=(CsvFile&& other) noexcept {
  if (this != &other) {
    this->~CsvFile();
    path_ = std::move(other.path_);
    fd_ = other.fd_;
    size_ = other.size_;
    pending_ = std::move(other.pending_);
    other.fd_ = -1;
  }
  return *this;
}

CsvFile::~CsvFile() {
  if (fd_ < 0) return;
  try {
    flush();  // rows already recorded are kept when a run ends by an exception elsewhere
  } catch (const Error&) {
    // The file is back at its last whole row; the error that ended the run has been reported.
  }
  ::close(fd_);
  fd_ = -1;
}

void CsvFile::flush() {
  if (pending_.empty() || fd_ < 0) return;
  const int error = write_all(fd_, pending_);
  const std::size_t written = pending_.size();
  pending_.clear();
  if (error != 0) {
    // Part of the buffer may be on disk, ending in a torn row: cut back to the last whole row.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      // Nothing more can be done; the message below still names the file and the first error.
    }
    throw io_error("write", path_, error);
  }
  size_ += written;
}

void CsvFile::sync() {
  flush();
  if (fd_ >= 0) {
    const int error = fsync_retrying(fd_);
    if (error != 0) throw io_error("sync", path_, error);
  }
}

void CsvFile::close() {
  if (fd_ < 0) return;
  sync();
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw io_error("close", path_, errno);
}

}  // namespace ringmaster
