#include "objectives/fashion_mnist.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>

#include "ringmaster/error.hpp"

namespace ringmaster {
namespace {

// IDX (LeCun's MNIST format): a big-endian magic 0x0000 TT DD (TT = 0x08 unsigned bytes, DD the number
// of dimensions), DD big-endian uint32 sizes, then the data in row-major order.
constexpr std::uint32_t kImagesMagic = 0x00000803;  // uint8, 3 dimensions: (count, rows, cols)
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // uint8, 1 dimension: (count)

const char* const kPackageHint =
    " (Fashion-MNIST comes from the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)";

// One gzip-compressed IDX file, read front to back. Every error names the file and, for the package's files,
// the package (`hint`).
class GzFile {
 public:
  explicit GzFile(std::string path, const char* hint = kPackageHint) : path_(std::move(path)), hint_(hint) {
    std::error_code ec;
    if (std::filesystem::is_directory(path_, ec)) fail("is a directory, not a gzip file");
    // O_NONBLOCK: opening a FIFO must not wait for a writer; the type is checked on the open descriptor.
    const int fd = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) fail(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      fail("is not a regular file (a device, FIFO or socket is never read)");
    }
    errno = 0;
    file_ = gzdopen(fd, "rb");  // owns fd from here, closed by gzclose
    if (file_ == nullptr) {
      ::close(fd);
      fail(std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
    }
    gzbuffer(file_, 1 << 17);
  }
  ~GzFile() {
    if (file_ != nullptr) gzclose(file_);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what + hint_); }

  // Exactly n bytes, or an Error saying why not (`what` names them in the message).
  void read(std::uint8_t* out, std::size_t n, const std::string& what) {
    std::size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, std::size_t{1} << 30));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) fail("corrupt gzip stream: " + zlib_error());
      if (got == 0) {
        if (stream_broken()) fail("truncated gzip stream (" + zlib_error() + ") in the " + what);
        fail("short data: the " + what + " need " + std::to_string(n) + " bytes, the file ends after " +
             std::to_string(done));
      }
      done += static_cast<std::size_t>(got);
      // Read transparently, a file that is not gzip at all would be taken as raw IDX: refuse it, since the
      // package ships only .gz files and a plain file under that name is not one of them.
      if (gzdirect(file_)) fail("not a gzip file");
    }
  }

  std::uint32_t big_endian_u32(const std::string& what) {
    std::uint8_t b[4];
    read(b, 4, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }

  // After the data the stream must end cleanly: reading on checks the gzip trailer (CRC-32 and length),
  // which is where a flipped bit in the compressed data or a cut-off file shows.
  void expect_end(std::size_t declared) {
    std::uint8_t extra;
    const int got = gzread(file_, &extra, 1);
    if (got < 0) fail("corrupt gzip stream: " + zlib_error());
    if (got > 0) fail("trailing data after the " + std::to_string(declared) + " items its header declares");
    if (stream_broken()) fail("truncated gzip stream (" + zlib_error() + ")");
  }

 private:
  bool stream_broken() const {
    int code = Z_OK;
    gzerror(file_, &code);
    return code != Z_OK;
  }
  std::string zlib_error() const {
    int code = Z_OK;
    const char* message = gzerror(file_, &code);
    return message != nullptr && *message ? message : "zlib error " + std::to_string(code);
  }

  std::string path_;
  const char* hint_;
  gzFile file_ = nullptr;
};

void check_magic(GzFile& file, std::uint32_t expected, const char* kind) {
  const std::uint32_t magic = file.big_endian_u32("header");
  if (magic != expected) {
    char text[64];
    std::snprintf(text, sizeof text, "wrong magic number 0x%08x (an IDX %s file has 0x%08x)", magic, kind, expected);
    file.fail(text);
  }
}

void check_size(GzFile& file, const char* name, std::uint32_t value, std::size_t expected) {
  if (value != expected)
    file.fail(std::string("wrong ") + name + " in the header: " + std::to_string(value) + ", expected " +
              std::to_string(expected));
}

// One images file and its labels file: `expected` of each (the package's files), or as many as the labels file
// declares (a user's, without the package hint in errors).
LabelledImages load_pair(const std::string& images_path, const std::string& labels_path,
                         std::optional<std::size_t> expected) {
  const char* hint = expected ? kPackageHint : "";
  LabelledImages set;
  set.pixels_per_image = static_cast<std::size_t>(kFashionMnistSide) * kFashionMnistSide;

  // Labels first: the small file, so that its errors come without decompressing 26 MB of images.
  GzFile labels(labels_path, hint);
  check_magic(labels, kLabelsMagic, "labels (idx1-ubyte)");
  const std::uint32_t declared = labels.big_endian_u32("header");
  if (expected) {
    check_size(labels, "label count", declared, *expected);
  } else if (declared < 1 || declared > kMaxLabelledImages) {
    labels.fail("declares " + std::to_string(declared) + " labels; 1 to " + std::to_string(kMaxLabelledImages) +
                " are read");
  }
  const std::size_t count = declared;
  set.count = count;
  set.labels.resize(count);
  labels.read(set.labels.data(), count, "labels");
  labels.expect_end(count);
  for (std::size_t i = 0; i < count; ++i)
    if (set.labels[i] >= kFashionMnistClasses)
      labels.fail("label " + std::to_string(set.labels[i]) + " of example " + std::to_string(i) +
                  " is outside 0.." + std::to_string(kFashionMnistClasses - 1));

  GzFile images(images_path, hint);
  check_magic(images, kImagesMagic, "images (idx3-ubyte)");
  const std::uint32_t image_count = images.big_endian_u32("header");
  if (image_count != count)
    images.fail("holds " + std::to_string(image_count) + " images but " + labels_path + " holds " +
                std::to_string(count) + " labels (expected " + std::to_string(count) + " of each)");
  check_size(images, "number of rows", images.big_endian_u32("header"), kFashionMnistSide);
  check_size(images, "number of columns", images.big_endian_u32("header"), kFashionMnistSide);
  set.pixels.resize(count * set.pixels_per_image);
  images.read(set.pixels.data(), set.pixels.size(), "images");
  images.expect_end(count);
  return set;
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& dir) {
  const auto file = [&](const char* name) { return (std::filesystem::path(dir) / name).string(); };
  FashionMnist data;
  data.train = load_pair(file("train-images-idx3-ubyte.gz"), file("train-labels-idx1-ubyte.gz"), kFashionMnistTrain);
  data.test = load_pair(file("t10k-images-idx3-ubyte.gz"), file("t10k-labels-idx1-ubyte.gz"), kFashionMnistTest);
  return data;
}

LabelledImages load_labelled_images(const std::string& images_path, const std::string& labels_path) {
  return load_pair(images_path, labels_path, std::nullopt);
}

}  // namespace ringmaster
