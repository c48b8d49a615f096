// The reader policy every file the binary reads goes through (input_file.hpp): a FIFO, a device or a
// directory is refused without blocking and before a byte is read, and so is a file over its limit.
#include "ringmaster/input_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>

#include "support.hpp"

namespace ringmaster {
namespace {

using testing::TempDir;
using testing::write_file;
using Status = InputFile::Status;

// A FIFO with no writer blocks open(2) without O_NONBLOCK: this test would hang, not fail, on a reader
// that opens it blocking (ctest's timeout then reports it).
TEST(InputFile, RefusesWhatIsNotARegularFileWithoutBlocking) {
  TempDir dir("input-file");
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(InputFile(dir.path() / "fifo", 1 << 20).status(), Status::not_regular);
  EXPECT_EQ(InputFile("/dev/zero", 1 << 20).status(), Status::not_regular);
  EXPECT_EQ(InputFile(dir.path(), 1 << 20).status(), Status::directory);
  const InputFile missing(dir.path() / "missing", 1 << 20);
  EXPECT_EQ(missing.status(), Status::cannot_open);
  EXPECT_EQ(missing.error(), ENOENT);
  EXPECT_EQ(missing.fd(), -1);

  EXPECT_EQ(read_bounded(dir.path() / "fifo", 1 << 20).status, BoundedRead::Status::not_regular);
  EXPECT_EQ(read_bounded("/dev/zero", 1 << 20).status, BoundedRead::Status::not_regular);
}

// The size is the limit's before a byte is read: a sparse file of 1 GiB costs nothing to make and would
// cost 1 GiB to read.
TEST(InputFile, RefusesAFileOverItsLimitBeforeReadingIt) {
  TempDir dir("input-file-limit");
  write_file(dir.path() / "f", "0123456789");
  EXPECT_EQ(InputFile(dir.path() / "f", 9).status(), Status::too_large);
  EXPECT_EQ(InputFile(dir.path() / "f", 10).status(), Status::ok);
  std::filesystem::resize_file(dir.path() / "f", std::uint64_t{1} << 30);
  EXPECT_EQ(read_bounded(dir.path() / "f", 1 << 20).status, BoundedRead::Status::too_large);
}

TEST(InputFile, ReadsWhatItAccepts) {
  TempDir dir("input-file-read");
  write_file(dir.path() / "f", "0123456789");
  InputFile file(dir.path() / "f", 10);
  ASSERT_EQ(file.status(), Status::ok);
  EXPECT_EQ(file.size(), 10u);
  char bytes[16] = {};
  EXPECT_TRUE(file.read_at(bytes, 4, 3));
  EXPECT_EQ(std::string(bytes, 4), "3456");
  EXPECT_FALSE(file.read_at(bytes, 4, 8));  // the file ends first
  EXPECT_EQ(file.error(), 0);
  EXPECT_EQ(file.read(bytes, sizeof bytes), std::optional<std::size_t>(10));
  EXPECT_EQ(file.read(bytes, sizeof bytes), std::optional<std::size_t>(0));
  EXPECT_EQ(read_bounded(dir.path() / "f", 10).text, "0123456789");
}

}  // namespace
}  // namespace ringmaster
