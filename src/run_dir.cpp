#include "ringmaster/run_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fmt/format.h>

#include <random>

#include "ringmaster/error.hpp"
#include "ringmaster/file_writer.hpp"
#include "ringmaster/input_file.hpp"
#include "ringmaster/text.hpp"

namespace ringmaster {
namespace fs = std::filesystem;

namespace {

std::string errno_text(int error) { return std::strerror(error); }

// True when `dir` holds nothing but (perhaps) a lock file left by an earlier run.
bool holds_nothing(const fs::path& dir, const std::string& label) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != kLockFile) return false;
  if (ec) throw Error(label + ": cannot list it: " + ec.message());
  return true;
}

bool is_run_id(const std::string& id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string read_run_file(const fs::path& path, std::size_t limit, const std::string& label) {
  BoundedRead file = read_bounded(path, limit);
  switch (file.status) {
    case BoundedRead::Status::ok: return std::move(file.text);
    case BoundedRead::Status::cannot_open:
      throw Error(label + ": cannot open " + shown_path(path) + ": " + errno_text(file.error));
    case BoundedRead::Status::cannot_read:
      throw Error(label + ": cannot read " + shown_path(path) + ": " + errno_text(file.error));
    default:
      throw Error(label + ": " + shown_path(path) + " is not a regular file of at most " + std::to_string(limit) +
                  " bytes");
  }
}

void check_run_name(const std::string& name) {
  const bool safe = !name.empty() && name.size() <= kMaxRunName && name.front() != '.' && name.front() != '-' &&
                    name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") ==
                        std::string::npos;
  if (!safe)
    throw Error("--name '" + shown(name) + "': a run name is one path component of 1 to " +
                std::to_string(kMaxRunName) +
                " letters, digits, '.', '_', '+' and '-', not starting with '.' or '-' (it names runs/<stamp>-<name>)");
}

std::string new_run_id() {
  std::random_device device;  // /dev/urandom on Linux
  const std::uint64_t id = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  return fmt::format("{:016x}", id);
}

RunDir::RunDir(fs::path path, std::string label) : path_(std::move(path)), label_(std::move(label)) {}

RunDir::RunDir(RunDir&& other) noexcept
    : path_(std::move(other.path_)),
      label_(std::move(other.label_)),
      run_id_(std::move(other.run_id_)),
      lock_fd_(other.lock_fd_),
      created_(other.created_),
      was_empty_(other.was_empty_),
      started_(other.started_) {
  other.lock_fd_ = -1;
  other.created_ = other.was_empty_ = false;
  other.started_ = true;  // the moved-from object owns nothing to remove
}

RunDir::~RunDir() {
  if (!started_ && (created_ || was_empty_)) {
    // The start failed: leave no half-made run behind. While we hold the lock nobody else writes here.
    std::error_code ec;
    if (created_) {
      fs::remove_all(path_, ec);
    } else {
      for (fs::directory_iterator it(path_, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code ignored;
        fs::remove_all(it->path(), ignored);
      }
    }
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void RunDir::lock() {
  const fs::path file = path_ / kLockFile;
  lock_fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (lock_fd_ < 0) throw Error(label_ + ": cannot open " + shown_path(file) + ": " + errno_text(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error != EWOULDBLOCK) throw Error(label_ + ": cannot lock " + shown_path(file) + ": " + errno_text(error));
    char holder[256] = {};
    const ssize_t n = ::pread(lock_fd_, holder, sizeof holder - 1, 0);
    std::string who(holder, n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw Error(label_ + ": the run directory is in use by another job (" + (who.empty() ? "pid unknown" : shown(who)) +
                "); two jobs must never write into one run directory");
  }
  // Whoever finds the directory locked learns who holds it. Only a hint: the lock is the flock.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string who = fmt::format("pid {} on {}\n", ::getpid(), host);
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, who.data(), who.size(), 0) != static_cast<ssize_t>(who.size()))
    throw Error(label_ + ": cannot write " + shown_path(file) + ": " + errno_text(errno));
}

void RunDir::give_id() {
  run_id_ = new_run_id();
  write_file_atomically(path_ / kRunIdFile, run_id_ + "\n");
}

RunDir RunDir::create(const Config& config, const std::string& out, bool force, const std::string& name) {
  const std::string requested = out.empty() ? config.run.out : out;
  if (!requested.empty() && !name.empty())
    throw Error("--name " + shown(name) + ": names a directory under runs/, but " +
                (out.empty() ? "run.out" : "--out") + " gives the run's directory: use one of them");
  if (!requested.empty()) {
    fs::path path(requested);
    if (!path.has_filename()) path = path.parent_path();  // "DIR/" is DIR: it is what mkdir creates
    RunDir dir(path, (out.empty() ? "run.out " : "--out ") + shown_path(requested));
    std::error_code ec;
    const fs::path parent = dir.path_.parent_path();
    if (!parent.empty() && !fs::is_directory(parent, ec)) {
      fs::create_directories(parent, ec);
      if (ec) throw Error(dir.label_ + ": cannot create " + shown_path(parent) + ": " + ec.message());
    }
    if (::mkdir(dir.path_.c_str(), 0777) == 0) {
      dir.created_ = true;
    } else {
      const int error = errno;
      struct stat st {};
      if (error != EEXIST) throw Error(dir.label_ + ": cannot create the run directory: " + errno_text(error));
      if (::stat(dir.path_.c_str(), &st) != 0)
        throw Error(dir.label_ + ": " + errno_text(errno));
      if (!S_ISDIR(st.st_mode)) throw Error(dir.label_ + ": exists and is not a directory");
      // Checked before the lock file is made (a refused run leaves nothing behind) and again after it
      // is held (another run may have started in between).
      dir.was_empty_ = holds_nothing(dir.path_, dir.label_);
      if (!dir.was_empty_ && !force)
        throw Error(dir.label_ + ": directory exists and is not empty (a run never overwrites another; pass "
                    "--force to write into it anyway)");
    }
    dir.lock();
    if (!dir.created_ && dir.was_empty_ && !holds_nothing(dir.path_, dir.label_)) {
      dir.was_empty_ = false;  // someone else's files now: never remove them
      if (!force) throw Error(dir.label_ + ": another run wrote into the directory while this one started");
    }
    dir.give_id();
    return dir;
  }
  std::error_code ec;
  fs::create_directories("runs", ec);
  if (ec) throw Error("run directory runs/: cannot create it: " + ec.message());
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  const std::string base = (fs::path("runs") / (std::string(stamp) + "-" + (name.empty() ? config.run.method : name))).string();
  // mkdir is the test and the claim in one step: runs started in the same second get distinct names.
  for (int n = 0;; ++n) {
    const std::string candidate = n == 0 ? base : base + "-" + std::to_string(n);
    if (::mkdir(candidate.c_str(), 0777) == 0) {
      RunDir dir(candidate, "run directory " + shown_path(candidate));
      dir.created_ = true;
      dir.lock();
      dir.give_id();
      return dir;
    }
    if (errno != EEXIST || n >= 100000)
      throw Error("run directory " + shown_path(candidate) + ": cannot create it: " + errno_text(errno));
  }
}

RunDir RunDir::resume(const std::string& path) {
  RunDir dir(path, "--resume " + shown_path(path));
  struct stat st {};
  if (::stat(dir.path_.c_str(), &st) != 0) throw Error(dir.label_ + ": " + errno_text(errno));
  if (!S_ISDIR(st.st_mode)) throw Error(dir.label_ + ": not a directory");
  dir.started_ = true;  // it existed before: a failed resume never removes it
  dir.lock();
  dir.run_id_ = read_run_id(dir.path_, dir.label_);
  return dir;
}

std::string read_run_id(const fs::path& dir, const std::string& label) {
  std::string id = read_run_file(dir / kRunIdFile, 64, label);
  while (!id.empty() && (id.back() == '\n' || id.back() == '\r' || id.back() == ' ')) id.pop_back();
  if (!is_run_id(id)) throw Error(label + ": " + shown_path(dir / kRunIdFile) + " does not hold a run id (16 hex digits)");
  return id;
}

}  // namespace ringmaster
