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

// Appends the documents of one file's text: separated by lines holding only `%`, empty ones dropped.
void split_at_percent_lines(std::string_view text, std::vector<std::string>& documents) {
  std::size_t document_begin = 0;
  const auto close_document = [&](std::size_t end) {
    if (end > document_begin) documents.emplace_back(text.substr(document_begin, end - document_begin));
  };
  for (std::size_t line = 0; line < text.size();) {
    const std::size_t newline = text.find('\n', line);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    if (text.substr(line, end - line) == "%") {
      close_document(line);
      document_begin = std::min(end + 1, text.size());
    }
    line = end + 1;
  }
  close_document(text.size());
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

std::string read_text_file(const fs::path& file, std::size_t limit, const std::string& hint) {
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
  return std::move(read.text);
}

void append_document(std::vector<std::uint8_t>& stream, const std::string& document) {
  stream.insert(stream.end(), document.begin(), document.end());
  stream.push_back(kEndOfDocument);
}

}  // namespace

std::vector<std::string> read_documents(const std::string& path) {
  const std::string hint = package_hint(path);
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory) throw Error(path + ": cannot be read: " + ec.message() + hint);
    throw Error(path + ": no such file or directory" + hint);
  }
  const bool directory = fs::is_directory(status);
  const std::vector<fs::path> files = directory ? corpus_files(path, hint) : std::vector<fs::path>{path};
  std::vector<std::string> documents;
  std::size_t total = 0;
  for (const fs::path& file : files) {
    const std::string text = read_text_file(file, kMaxCorpusBytes - total, hint);
    total += text.size();
    split_at_percent_lines(text, documents);
  }
  if (documents.empty())
    throw Error(path + (directory && files.empty() ? ": the directory holds no regular file"
                                                   : ": the corpus is empty (no document: no text outside `%` lines)") +
                hint);
  return documents;
}

TextCorpus split_documents(const std::vector<std::string>& documents, double validation_fraction, std::uint64_t seed,
                           const std::string& source) {
  const std::size_t n = documents.size();
  if (n < 2)
    throw Error(source + ": holds " + std::to_string(n) +
                " document, and the split into training and validation is by document: it needs at least 2 (separate "
                "documents by lines holding only `%`)" +
                package_hint(source));
  const auto held_out = static_cast<std::size_t>(
      std::clamp<double>(std::round(validation_fraction * static_cast<double>(n)), 1.0, static_cast<double>(n - 1)));
  // Fisher–Yates with Boost's uniform_int_distribution (as the EpochSampler): the same permutation on every
  // platform. Its first `held_out` documents are the validation set.
  std::vector<std::uint32_t> order(n);
  std::iota(order.begin(), order.end(), std::uint32_t{0});
  Rng rng(seed, Stream::objective_data, kSplitStreamIndex);
  for (std::size_t i = n; i > 1; --i) {
    boost::random::uniform_int_distribution<std::size_t> pick(0, i - 1);
    std::swap(order[i - 1], order[pick(rng.engine())]);
  }
  std::vector<bool> validation(n, false);
  for (std::size_t i = 0; i < held_out; ++i) validation[order[i]] = true;

  TextCorpus corpus;
  corpus.documents = n;
  for (std::size_t d = 0; d < n; ++d) {
    append_document(validation[d] ? corpus.validation : corpus.train, documents[d]);
    if (validation[d]) corpus.validation_documents.push_back(static_cast<std::uint32_t>(d));
  }
  return corpus;
}

TextCorpus load_text_corpus(const std::string& path, double validation_fraction, std::uint64_t seed, int context) {
  TextCorpus corpus = split_documents(read_documents(path), validation_fraction, seed, path);
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
