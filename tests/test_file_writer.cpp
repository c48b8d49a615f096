// The one writer (file_writer.hpp): a failed write(2) — here forced by RLIMIT_FSIZE, as a full disk or
// a quota would — is an Error naming the file and errno, and leaves the previous complete file (or
// none), never a 0-byte, torn or temporary one.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <functional>

#include "ringmaster/error.hpp"
#include "ringmaster/file_writer.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using namespace ringmaster::testing;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// While alive, no file of this process may grow beyond `bytes`: write(2) past it fails with EFBIG
// (SIGXFSZ, which would kill the process, is ignored).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &previous_);
    rlimit limit = previous_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &previous_);
    std::signal(SIGXFSZ, previous_handler_);
  }

 private:
  rlimit previous_{};
  void (*previous_handler_)(int) = nullptr;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool has_temporary(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".tmp") return true;
  return false;
}

TEST(FileWriter, ReplacesAWholeFileAndLeavesNoTemporary) {
  TempDir dir("writer-replace");
  const fs::path file = dir.path() / "summary.json";
  write_file_atomically(file, "first\n");
  write_file_atomically(file, "second, longer\n");
  EXPECT_EQ(read_text(file), "second, longer\n");
  EXPECT_FALSE(has_temporary(dir.path()));
}

TEST(FileWriter, AFailedWriteKeepsThePreviousFileAndNamesFileAndErrno) {
  TempDir dir("writer-fail");
  const fs::path file = dir.path() / "summary.json";
  write_file_atomically(file, "complete\n");
  const std::string big(64 * 1024, 'x');
  std::string error;
  {
    FileSizeLimit limit(4096);
    error = error_of([&] { write_file_atomically(file, big); });
    // A file that did not exist stays absent.
    const std::string fresh = error_of([&] { write_file_atomically(dir.path() / "workers.csv", big); });
    EXPECT_NE(fresh.find("workers.csv"), std::string::npos) << fresh;
  }
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_NE(error.find(std::strerror(EFBIG)), std::string::npos) << error;
  EXPECT_EQ(read_text(file), "complete\n");
  EXPECT_FALSE(fs::exists(dir.path() / "workers.csv"));
  EXPECT_FALSE(has_temporary(dir.path()));
}

TEST(FileWriter, CsvFileHoldsOnlyWholeRowsWhenAWriteFails) {
  TempDir dir("writer-csv");
  const fs::path file = dir.path() / "events.csv";
  CsvFile csv = CsvFile::create(file, "a,b\n");
  for (int i = 0; i < 10; ++i) csv.row("{},{}\n", i, i * i);
  csv.flush();
  const std::uint64_t good = csv.size();
  EXPECT_EQ(fs::file_size(file), good);
  std::string error;
  {
    // Room for part of the next batch only: a plain buffered stream would leave a torn row here.
    FileSizeLimit limit(good + 100);
    for (int i = 0; i < 1000; ++i) csv.row("{},{}\n", i, i * i);
    error = error_of([&] { csv.flush(); });
  }
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_NE(error.find(std::strerror(EFBIG)), std::string::npos) << error;
  const std::string text = read_text(file);
  EXPECT_EQ(text.size(), good);  // cut back to the rows it held before
  EXPECT_EQ(text.back(), '\n');
}

TEST(FileWriter, CsvFileResumesAtACheckpointsOffset) {
  TempDir dir("writer-resume");
  const fs::path file = dir.path() / "eval.csv";
  std::uint64_t at_checkpoint = 0;
  {
    CsvFile csv = CsvFile::create(file, "k\n");
    csv.row("{}\n", 1);
    csv.row("{}\n", 2);
    csv.sync();
    at_checkpoint = csv.size();
    csv.row("{}\n", 3);  // after the checkpoint: dropped by the resume
    csv.close();
  }
  { std::ofstream(file, std::ios::app) << "4,tor"; }  // a torn row, as a kill could leave
  {
    CsvFile csv = CsvFile::resume(file, at_checkpoint);
    csv.row("{}\n", 3);
    csv.close();
  }
  EXPECT_EQ(read_text(file), "k\n1\n2\n3\n");
  // A file shorter than its checkpoint says was changed behind the run's back: refused.
  fs::resize_file(file, 2);
  const std::string error = error_of([&] { CsvFile::resume(file, at_checkpoint); });
  EXPECT_NE(error.find("fewer than"), std::string::npos) << error;
}

}  // namespace
}  // namespace ringmaster
