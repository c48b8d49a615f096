#include "objectives/fashion_mnist.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

#include "ringmaster/error.hpp"
#include "ringmaster/input_file.hpp"

namespace ringmaster {
namespace {

// IDX (LeCun's MNIST format): a big-endian magic 0x0000 TT DD (TT = 0x08 unsigned bytes, DD the number
// of dimensions), DD big-endian uint32 sizes, then the data in row-major order.
constexpr std::uint32_t kImagesMagic = 0x00000803;  // uint8, 3 dimensions: (count, rows, cols)
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // uint8, 1 dimension: (count)

const char* const kPackageHint =
    " (Fashion-MNIST comes from the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)";

// One gzip-compressed IDX file, read front to back under the reader policy (input_file.hpp: a FIFO, a
// device or a directory is refused before a byte is read, and so is a file larger than the most its
// content can take compressed), decompressed by zlib's inflate from the descriptor. Not gzopen/gzdopen:
// gzread ignores whatever follows the gzip member when it is not another member, and reads a file that
// is not gzip at all as it is; inflate with a gzip-only window leaves both to be refused here. Every
// error names the file and, for the package's files, the package (`hint`). The CRC-32 of the decompressed
// bytes, which the gzip trailer checks, is their fingerprint (data_fingerprint.hpp).
class GzFile {
 public:
  // `content` is the decompressed size the file must have (its IDX header and data), or at most has.
  GzFile(const std::filesystem::path& path, std::size_t content, const char* hint = kPackageHint)
      : path_(path.string()), hint_(hint), file_(path, limit(content)) {
    switch (file_.status()) {
      case InputFile::Status::ok: break;
      case InputFile::Status::cannot_open: fail(std::string("cannot open: ") + std::strerror(file_.error()));
      case InputFile::Status::directory: fail("is a directory, not a gzip file");
      case InputFile::Status::not_regular: fail("is not a regular file (a FIFO, device or socket)");
      case InputFile::Status::too_large:
        fail("is " + std::to_string(file_.size()) + " bytes, more than the " + std::to_string(limit(content)) +
             " its " + std::to_string(content) + " bytes of content can take compressed");
    }
    // 16 + MAX_WBITS: a gzip stream only (no zlib or raw deflate), with a 32 KiB window.
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) fail("zlib cannot start inflating (out of memory)");
  }
  ~GzFile() { inflateEnd(&stream_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what + hint_); }

  // Exactly n bytes, or an Error saying why not (`what` names them in the message).
  void read(std::uint8_t* out, std::size_t n, const std::string& what) {
    std::size_t done = 0;
    while (done < n) {
      const std::size_t got = inflate_into(out + done, n - done);
      if (got == 0)
        fail("short data: the " + what + " need " + std::to_string(n) + " bytes, the file ends after " +
             std::to_string(done));
      done += got;
    }
  }

  std::uint32_t big_endian_u32(const std::string& what) {
    std::uint8_t b[4];
    read(b, 4, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }

  // After the data the gzip member must end (its trailer checked: the CRC-32 and length of the content,
  // where a flipped bit in the compressed data shows), and the file with it.
  void expect_end(std::size_t declared) {
    std::uint8_t extra;
    if (inflate_into(&extra, 1) != 0)
      fail("trailing data after the " + std::to_string(declared) + " items its header declares");
    if (stream_.avail_in > 0 || refill())
      fail("garbage after the gzip member: the file goes on after its byte " + std::to_string(stream_.total_in));
  }

  // The name, size and CRC-32 of the content read so far (all of it, after expect_end).
  FileFingerprint fingerprint() const {
    // For a gzip stream inflate keeps the running CRC-32 of what it produced in `adler`.
    return {std::filesystem::path(path_).filename().string(), stream_.total_out,
            static_cast<std::uint32_t>(stream_.adler)};
  }

 private:
  // A gzip file holds its content in deflate blocks, at worst stored (5 bytes of header per 65,535 bytes),
  // plus its own header (with a file name and comment: a few hundred bytes in practice): 1 MiB of room.
  static std::uint64_t limit(std::size_t content) { return content + content / 8192 + (std::uint64_t{1} << 20); }

  // Reads the next compressed bytes into the input buffer; false at the end of the file.
  bool refill() {
    const std::optional<std::size_t> got = file_.read(input_.data(), input_.size());
    if (!got) fail(std::string("cannot read: ") + std::strerror(file_.error()));
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(*got);
    return *got > 0;
  }

  // Inflates up to n bytes into out; returns how many (0 once the gzip member has ended).
  std::size_t inflate_into(std::uint8_t* out, std::size_t n) {
    if (ended_) return 0;
    stream_.next_out = out;
    stream_.avail_out = static_cast<uInt>(std::min<std::size_t>(n, std::size_t{1} << 30));
    const uInt wanted = stream_.avail_out;
    while (stream_.avail_out == wanted) {
      if (stream_.avail_in == 0 && !refill())
        fail(stream_.total_in == 0 ? "is empty, not a gzip file" : "truncated gzip stream (the file ends inside it)");
      const int code = inflate(&stream_, Z_NO_FLUSH);
      if (code == Z_STREAM_END) {
        ended_ = true;
        break;
      }
      if (code == Z_MEM_ERROR) fail("zlib ran out of memory");
      // Z_OK, or Z_BUF_ERROR (no progress possible: the input is used up): more input follows. Anything
      // else is a stream inflate cannot go on with: a header that is not gzip's (within the 10 bytes of
      // the fixed header), or damaged data.
      if (code != Z_OK && code != Z_BUF_ERROR) {
        const std::string why = stream_.msg ? stream_.msg : "zlib error " + std::to_string(code);
        fail(stream_.total_out == 0 && stream_.total_in < 10 ? "not a gzip file (" + why + ")"
                                                             : "corrupt gzip stream: " + why);
      }
    }
    return wanted - stream_.avail_out;
  }

  std::string path_;
  const char* hint_;
  InputFile file_;
  z_stream stream_{};
  std::vector<Bytef> input_ = std::vector<Bytef>(1 << 17);  // compressed bytes read, not yet inflated
  bool ended_ = false;  // the gzip member's trailer has been read and checked
};

void check_magic(GzFile& file, std::uint32_t expected, const char* kind) {
  const std::uint32_t magic = file.big_endian_u32("header");
  if (magic != expected)
    file.fail(fmt::format("wrong magic number 0x{:08x} (an IDX {} file has 0x{:08x})", magic, kind, expected));
}

void check_size(GzFile& file, const char* name, std::uint32_t value, std::size_t expected) {
  if (value != expected)
    file.fail(std::string("wrong ") + name + " in the header: " + std::to_string(value) + ", expected " +
              std::to_string(expected));
}

// One images file and its labels file: `expected` of each (the package's files), or as many as the labels file
// declares, at most kMaxLabelledImages (a user's, without the package hint in errors).
LabelledImages load_pair(const std::string& images_path, const std::string& labels_path,
                         std::optional<std::size_t> expected, DataFingerprint& fingerprint) {
  const char* hint = expected ? kPackageHint : "";
  LabelledImages set;
  set.pixels_per_image = static_cast<std::size_t>(kFashionMnistSide) * kFashionMnistSide;

  // Labels first: the small file, so that its errors come without decompressing 26 MB of images.
  constexpr std::size_t kLabelsHeader = 8, kImagesHeader = 16;  // magic and sizes: 4 bytes each
  GzFile labels(labels_path, kLabelsHeader + expected.value_or(kMaxLabelledImages), hint);
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
  fingerprint.files.push_back(labels.fingerprint());
  for (std::size_t i = 0; i < count; ++i)
    if (set.labels[i] >= kFashionMnistClasses)
      labels.fail("label " + std::to_string(set.labels[i]) + " of example " + std::to_string(i) +
                  " is outside 0.." + std::to_string(kFashionMnistClasses - 1));

  GzFile images(images_path, kImagesHeader + count * set.pixels_per_image, hint);
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
  fingerprint.files.push_back(images.fingerprint());
  return set;
}

}  // namespace

FashionMnist load_fashion_mnist(const std::string& dir) {
  const auto file = [&](const char* name) { return (std::filesystem::path(dir) / name).string(); };
  FashionMnist data;
  data.fingerprint.source = dir;
  data.train = load_pair(file("train-images-idx3-ubyte.gz"), file("train-labels-idx1-ubyte.gz"), kFashionMnistTrain,
                         data.fingerprint);
  data.test = load_pair(file("t10k-images-idx3-ubyte.gz"), file("t10k-labels-idx1-ubyte.gz"), kFashionMnistTest,
                        data.fingerprint);
  return data;
}

LabelledImages load_labelled_images(const std::string& images_path, const std::string& labels_path) {
  DataFingerprint unused;  // what a checkpoint records is the run's own data, not what eval reads
  return load_pair(images_path, labels_path, std::nullopt, unused);
}

}  // namespace ringmaster
