#include "objectives/text_corpus.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <boost/random/uniform_int_distribution.hpp>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>

#include "ringmaster/error.hpp"
#include "ringmaster/input_file.hpp"
#include "ringmaster/rng.hpp"

namespace ringmaster {
namespace {

namespace fs = std::filesystem;

// The split's shuffle draws from the objective's data stream at index 1 (index 0 is the network's
// initialization), so it depends on run.seed alone.
constexpr std::uint64_t kSplitStreamIndex = 1;

std::string package_hint(const std::string& path) {
  fs::path normal = fs::path(path).lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();  // "dir/" names "dir"
  if (normal != fs::path(kFortunesDir)) return "";
  return " (the default corpus comes from the Debian package fortunes: apt-get install fortunes)";
}

// A directory's files in the order of text_corpus.hpp: regular files (following links) sorted by name,
// each file once, `NAME.dat` skipped beside `NAME`.
std::vector<fs::path> corpus_files(const fs::path& dir, const std::string& hint) {
  std::error_code ec;
  std::vector<fs::path> names;
  fs::directory_iterator it(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot list the directory: " + ec.message() + hint);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) throw Error(dir.string() + ": cannot list the directory: " + ec.message() + hint);
    std::error_code type_error;
    if (it->is_regular_file(type_error)) names.push_back(it->path());
  }
  std::sort(names.begin(), names.end());
  std::set<std::string> present;
  for (const fs::path& p : names) present.insert(p.filename().string());
  std::set<std::pair<dev_t, ino_t>> seen;
  std::vector<fs::path> files;
  for (const fs::path& p : names) {
    const std::string name = p.filename().string();
    if (name.size() > 4 && name.ends_with(".dat") && present.count(name.substr(0, name.size() - 4))) continue;
    struct stat info {};
    if (::stat(p.c_str(), &info) == 0 && !seen.insert({info.st_dev, info.st_ino}).second) continue;
    files.push_back(p);
  }
  return files;
}

// The files read_corpus reads: a directory's (corpus_files), or `path` itself. Throws Error naming the
// path when it does not exist or cannot be examined.
std::vector<fs::path> files_of(const std::string& path, const std::string& hint) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw Error(path + ": cannot be read: " + ec.message() + hint);
    throw Error(path + ": no such file or directory" + hint);
  }
  return fs::is_directory(status) ? corpus_files(path, hint) : std::vector<fs::path>{path};
}

// The bytes of `files` (their sizes now, nothing read); a file that cannot be examined counts 0.
std::uint64_t bytes_of(const std::vector<fs::path>& files) {
  std::uint64_t bytes = 0;
  for (const fs::path& file : files) {
    std::error_code ec;
    const std::uintmax_t size = fs::file_size(file, ec);
    if (!ec) bytes += size;
  }
  return bytes;
}

// Appends one file's bytes to `text`, under the reader policy and within `limit` bytes.
void read_text_file(const fs::path& file, std::size_t limit, const std::string& hint, std::string& text) {
  using Status = BoundedRead::Status;
  BoundedRead read = read_bounded(file, limit);
  const std::string name = file.string();
  const std::string reason = std::generic_category().message(read.error);
  switch (read.status) {
    case Status::ok: break;
    case Status::cannot_open: throw Error(name + ": cannot open: " + reason + hint);
    case Status::cannot_read: throw Error(name + ": cannot read: " + reason + hint);
    case Status::directory: throw Error(name + ": is a directory" + hint);
    case Status::not_regular: throw Error(name + ": is not a regular file (a device, FIFO or socket)" + hint);
    case Status::too_large:
      throw Error(name + ": the corpus is larger than " + std::to_string(kMaxCorpusBytes >> 20) +
                  " MiB, the most it may have (it is read whole into memory)" + hint);
  }
  const std::size_t nul = read.text.find('\0');
  if (nul != std::string::npos)
    throw Error(name + ": byte " + std::to_string(nul) +
                " is NUL: not a text file (byte 0 marks the end of a document in the corpus)" + hint);
  if (text.empty())
    text = std::move(read.text);  // a single file: no copy
  else
    text += read.text;
}

// A document and its end-of-document byte at the end of a stream.
void append_document(std::vector<std::uint8_t>& stream, std::string_view document) {
  stream.insert(stream.end(), document.begin(), document.end());
  stream.push_back(kEndOfDocument);
}

}  // namespace

std::uint64_t corpus_bytes(const std::string& path) {
  try {
    return bytes_of(files_of(path, ""));
  } catch (const Error&) {
    return 0;
  }
}

CorpusText read_corpus(const std::string& path) {
  const std::string hint = package_hint(path);
  const std::vector<fs::path> files = files_of(path, hint);
  CorpusText corpus;
  corpus.fingerprint.source = path;
  // One buffer for every file, sized once (the files' sizes now; a file that grew meanwhile only makes it
  // grow): a buffer doubling as it fills would hold up to twice the corpus.
  if (files.size() > 1) corpus.text.reserve(std::min<std::uint64_t>(bytes_of(files), kMaxCorpusBytes));
  for (const fs::path& file : files) {
    const std::size_t begin = corpus.text.size();
    read_text_file(file, kMaxCorpusBytes - begin, hint, corpus.text);
    const std::string_view bytes = std::string_view(corpus.text).substr(begin);
    corpus.fingerprint.files.push_back(fingerprint_of(file.filename().string(), bytes));
    for_each_document(bytes, [&corpus](std::string_view) { ++corpus.documents; });
    corpus.file_ends.push_back(corpus.text.size());
  }
  if (corpus.documents == 0)
    throw Error(path + (fs::is_directory(path) && files.empty()
                            ? ": the directory holds no regular file"
                            : ": the corpus is empty (no document: no text outside `%` lines)") +
                hint);
  return corpus;
}

TextCorpus split_documents(const CorpusText& text, double validation_fraction, std::uint64_t seed,
                           const std::string& source) {
  const std::size_t n = text.documents;
  if (n < 2)
    throw Error(source + ": holds " + std::to_string(n) +
                " document, and the split into training and validation is by document: it needs at least 2 (separate "
                "documents by lines holding only `%`)" +
                package_hint(source));
  const auto held_out = static_cast<std::size_t>(
      std::clamp<double>(std::round(validation_fraction * static_cast<double>(n)), 1.0, static_cast<double>(n - 1)));
  std::vector<bool> validation(n, false);
  {
    // Fisher–Yates with Boost's uniform_int_distribution (as the EpochSampler): the same permutation on
    // every platform. Its first `held_out` documents are the validation set. Freed before the streams
    // are written.
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), std::uint32_t{0});
    Rng rng(seed, Stream::objective_data, kSplitStreamIndex);
    for (std::size_t i = n; i > 1; --i) {
      boost::random::uniform_int_distribution<std::size_t> pick(0, i - 1);
      std::swap(order[i - 1], order[pick(rng.engine())]);
    }
    for (std::size_t i = 0; i < held_out; ++i) validation[order[i]] = true;
  }

  TextCorpus corpus;
  corpus.documents = n;
  corpus.fingerprint = text.fingerprint;
  // Each stream sized exactly first (its documents and their end bytes), then written.
  std::size_t bytes[2] = {0, 0}, d = 0;
  for_each_document(text, [&](std::string_view document) { bytes[validation[d++]] += document.size() + 1; });
  corpus.train.reserve(bytes[0]);
  corpus.validation.reserve(bytes[1]);
  corpus.validation_documents.reserve(held_out);
  d = 0;
  for_each_document(text, [&](std::string_view document) {
    append_document(validation[d] ? corpus.validation : corpus.train, document);
    if (validation[d]) corpus.validation_documents.push_back(static_cast<std::uint32_t>(d));
    ++d;
  });
  return corpus;
}

TextCorpus load_text_corpus(const std::string& path, double validation_fraction, std::uint64_t seed, int context) {
  TextCorpus corpus = split_documents(read_corpus(path), validation_fraction, seed, path);
  const std::size_t window_bytes = static_cast<std::size_t>(context) + 1;
  const std::size_t validation_documents = corpus.validation_documents.size();
  for (auto [side, bytes, documents] :
       {std::tuple{"training", corpus.train.size(), corpus.documents - validation_documents},
        std::tuple{"validation", corpus.validation.size(), validation_documents}})
    if (bytes < window_bytes)
      throw Error(path + ": its " + side + " split (" + std::to_string(documents) + " of " +
                  std::to_string(corpus.documents) + " documents, " + std::to_string(bytes) +
                  " bytes with their end-of-document bytes) is shorter than one window of context + 1 = " +
                  std::to_string(window_bytes) + " bytes" + package_hint(path));
  return corpus;
}

std::vector<std::uint8_t> load_text_stream(const std::string& path, int context) {
  const CorpusText text = read_corpus(path);
  std::vector<std::uint8_t> stream;
  stream.reserve(text.text.size() + text.documents);
  for_each_document(text, [&](std::string_view document) { append_document(stream, document); });
  if (stream.size() < static_cast<std::size_t>(context) + 1)
    throw Error(path + ": " + std::to_string(stream.size()) +
                " bytes with their end-of-document bytes, shorter than one window of context + 1 = " +
                std::to_string(context + 1) + " bytes");
  return stream;
}

std::size_t window_count(std::size_t stream_bytes, int context) {
  const auto T = static_cast<std::size_t>(context);
  return stream_bytes < T + 1 ? 0 : (stream_bytes - 1) / T;
}

std::vector<std::uint32_t> spread_windows(std::size_t windows, std::size_t count) {
  count = std::min(count, windows);
  std::vector<std::uint32_t> chosen(count);
  for (std::size_t j = 0; j < count; ++j) chosen[j] = static_cast<std::uint32_t>(j * windows / count);
  return chosen;
}

}  // namespace ringmaster
