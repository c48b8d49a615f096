// The text corpus of the gpt objective (docs/method.md §6, src/objectives/text_corpus.hpp): documents from
// `%` lines, files and directories; the split by document (deterministic from the seed, disjoint, covering
// every document); the windows; every malformed input an Error naming the path.
#include "objectives/text_corpus.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <set>

#include "ringmaster/error.hpp"
#include "support.hpp"

namespace ringmaster {
namespace {

using testing::TempDir;
using testing::write_file;
namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<std::string> numbered_documents(int n) {
  std::vector<std::string> documents;
  for (int i = 0; i < n; ++i) documents.push_back("document " + std::to_string(i) + "\nsecond line\n");
  return documents;
}

// The documents read_corpus found, each as a string.
std::vector<std::string> documents_of(const CorpusText& corpus) {
  std::vector<std::string> documents;
  for_each_document(corpus, [&](std::string_view d) { documents.emplace_back(d); });
  return documents;
}
std::vector<std::string> read_documents(const std::string& path) { return documents_of(read_corpus(path)); }

// A corpus of one file holding `documents` (each ending in a newline), separated by `%` lines.
CorpusText corpus_of(const std::vector<std::string>& documents) {
  CorpusText corpus;
  for (const std::string& d : documents) corpus.text += d + "%\n";
  corpus.file_ends = {corpus.text.size()};
  corpus.documents = documents.size();
  return corpus;
}

// The stream a side of the split must be: its documents in corpus order, each followed by the end byte.
std::vector<std::uint8_t> stream_of(const std::vector<std::string>& documents, const std::vector<bool>& take) {
  std::vector<std::uint8_t> stream;
  for (std::size_t d = 0; d < documents.size(); ++d) {
    if (!take[d]) continue;
    stream.insert(stream.end(), documents[d].begin(), documents[d].end());
    stream.push_back(kEndOfDocument);
  }
  return stream;
}

TEST(TextCorpus, PercentLinesSeparateDocumentsAndEmptyOnesAreDropped) {
  TempDir dir("corpus-split-lines");
  // A leading `%`, two in a row and a trailing one make empty documents; "%%" and " %" are text.
  write_file(dir.path() / "f", "%\nfirst\nline two\n%\n%\nsecond %\n%%\n %\n%\nthird, no newline");
  EXPECT_EQ(read_documents(dir / "f"),
            (std::vector<std::string>{"first\nline two\n", "second %\n%%\n %\n", "third, no newline"}));
  write_file(dir.path() / "g", "one document\nwithout separators\n");
  EXPECT_EQ(read_documents(dir / "g"), (std::vector<std::string>{"one document\nwithout separators\n"}));
}

TEST(TextCorpus, DirectoryReadsRegularFilesInSortedOrderOnceEach) {
  TempDir dir("corpus-dir");
  write_file(dir.path() / "b", "b1\n%\nb2\n");
  write_file(dir.path() / "a", "a1\n");
  write_file(dir.path() / "a.dat", std::string("\x02\x00\x00\x00", 4));  // strfile's index of `a`: skipped
  write_file(dir.path() / "c.dat", "c.dat has no `c` beside it: it is text\n");
  fs::create_symlink("a", dir.path() / "a.u8");                    // a link to a file already read
  fs::create_directories(dir.path() / "sub");                      // not recursed into
  write_file(dir.path() / "sub" / "x", "x\n");
  EXPECT_EQ(read_documents(dir.path().string()),
            (std::vector<std::string>{"a1\n", "b1\n", "b2\n", "c.dat has no `c` beside it: it is text\n"}));
  // Its fingerprint (data_fingerprint.hpp) lists the files read, in that order, with their sizes and
  // CRC-32s; the memory estimate counts the same bytes.
  const CorpusText corpus = read_corpus(dir.path().string());
  EXPECT_EQ(corpus.fingerprint.source, dir.path().string());
  EXPECT_EQ(corpus.fingerprint.files,
            (std::vector<FileFingerprint>{fingerprint_of("a", "a1\n"), fingerprint_of("b", "b1\n%\nb2\n"),
                                          fingerprint_of("c.dat", "c.dat has no `c` beside it: it is text\n")}));
  EXPECT_EQ(corpus.file_ends, (std::vector<std::size_t>{3, 11, 50}));
  EXPECT_EQ(corpus.text.size(), 50u);  // one buffer holding every file's bytes
  EXPECT_EQ(corpus_bytes(dir.path().string()), 50u);
  EXPECT_EQ(corpus_bytes(dir / "b"), 8u);
  EXPECT_EQ(read_corpus(dir / "b").fingerprint.files, std::vector<FileFingerprint>{fingerprint_of("b", "b1\n%\nb2\n")});
  EXPECT_EQ(corpus_bytes(dir / "missing"), 0u);  // reading it says why
}

// A document never spans two files, even when a file does not end in a newline or a `%` line.
TEST(TextCorpus, DocumentsEndWithTheirFile) {
  TempDir dir("corpus-file-ends");
  write_file(dir.path() / "a", "one\n%\ntwo, no newline");
  write_file(dir.path() / "b", "three\n");
  const CorpusText corpus = read_corpus(dir.path().string());
  EXPECT_EQ(corpus.documents, 3u);
  EXPECT_EQ(documents_of(corpus), (std::vector<std::string>{"one\n", "two, no newline", "three\n"}));
}

TEST(TextCorpus, DefaultFortunesHaveAboutFifteenThousandDocuments) {
  if (!fs::is_directory(kFortunesDir)) GTEST_SKIP() << "the Debian package fortunes is not installed";
  const auto documents = read_documents(kFortunesDir);
  std::size_t bytes = 0;
  for (const auto& d : documents) bytes += d.size();
  // fortunes 1:1.99.1-7.3 (Debian 12): 15,216 `%` lines in 43 files; ~2.5 MB of text.
  EXPECT_GT(documents.size(), 14000u);
  EXPECT_LT(documents.size(), 17000u);
  EXPECT_GT(bytes, 2000000u);
  EXPECT_LT(bytes, 3000000u);
}

// The split is a function of the seed alone; held-out documents are disjoint from the training ones and
// together they are every document; each stream is exactly its documents with the end bytes.
TEST(TextCorpus, SplitIsByDocumentDeterministicDisjointAndCovering) {
  const auto documents = numbered_documents(200);
  const TextCorpus a = split_documents(corpus_of(documents), 0.1, 7, "test");
  const TextCorpus b = split_documents(corpus_of(documents), 0.1, 7, "test");
  EXPECT_EQ(a.validation_documents, b.validation_documents);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.validation, b.validation);
  EXPECT_EQ(a.documents, 200u);
  EXPECT_EQ(a.validation_documents.size(), 20u);  // round(0.1 · 200)
  EXPECT_TRUE(std::is_sorted(a.validation_documents.begin(), a.validation_documents.end()));
  EXPECT_EQ(std::set<std::uint32_t>(a.validation_documents.begin(), a.validation_documents.end()).size(), 20u);

  std::vector<bool> held_out(documents.size(), false);
  for (std::uint32_t d : a.validation_documents) held_out[d] = true;
  std::vector<bool> kept(held_out.size());
  for (std::size_t d = 0; d < kept.size(); ++d) kept[d] = !held_out[d];
  EXPECT_EQ(a.validation, stream_of(documents, held_out));
  EXPECT_EQ(a.train, stream_of(documents, kept));
  // Every byte of the corpus is in exactly one stream (the end bytes: one per document).
  std::size_t text = 0;
  for (const auto& d : documents) text += d.size();
  EXPECT_EQ(a.train.size() + a.validation.size(), text + documents.size());

  // Another seed holds out other documents (the chance that 20 of 200 coincide is 1 / C(200, 20)).
  const TextCorpus c = split_documents(corpus_of(documents), 0.1, 8, "test");
  EXPECT_NE(a.validation_documents, c.validation_documents);
}

TEST(TextCorpus, SplitKeepsADocumentOnEachSide) {
  const auto two = numbered_documents(2);
  EXPECT_EQ(split_documents(corpus_of(two), 0.01, 1, "t").validation_documents.size(), 1u);  // round(0.02) = 0 → 1
  EXPECT_EQ(split_documents(corpus_of(two), 0.99, 1, "t").validation_documents.size(), 1u);  // round(1.98) = 2 → 1
  const CorpusText ten = corpus_of(numbered_documents(10));
  EXPECT_EQ(split_documents(ten, 0.35, 1, "t").validation_documents.size(), 4u);  // round(3.5)
  EXPECT_NE(error_of([] { split_documents(corpus_of(numbered_documents(1)), 0.1, 1, "one.txt"); })
                .find("one.txt: holds 1 document"),
            std::string::npos);
}

// Windows of T + 1 bytes at stride T: inputs tile the stream, every byte but the first is a target once.
TEST(TextCorpus, WindowsTileTheStreamSoEveryByteIsATargetOnce) {
  const int T = 4;
  EXPECT_EQ(window_count(4, T), 0u);   // shorter than one window
  EXPECT_EQ(window_count(5, T), 1u);   // exactly one
  EXPECT_EQ(window_count(12, T), 2u);  // 9 bytes used, a tail of 3 < T left out
  EXPECT_EQ(window_count(13, T), 3u);
  std::vector<std::uint8_t> stream(13);
  std::iota(stream.begin(), stream.end(), std::uint8_t{0});
  std::vector<int> targeted(stream.size(), 0);
  for (std::size_t i = 0; i < window_count(stream.size(), T); ++i) {
    const std::uint8_t* w = window(stream, i, T);
    EXPECT_EQ(w[0], i * T);
    for (int t = 1; t <= T; ++t) ++targeted[w[t]];
  }
  EXPECT_EQ(targeted[0], 0);
  for (std::size_t b = 1; b < stream.size(); ++b) EXPECT_EQ(targeted[b], 1) << "byte " << b;
}

TEST(TextCorpus, SpreadWindowsCoverTheWholeStream) {
  EXPECT_EQ(spread_windows(10, 4), (std::vector<std::uint32_t>{0, 2, 5, 7}));
  EXPECT_EQ(spread_windows(3, 8), (std::vector<std::uint32_t>{0, 1, 2}));  // all of them
  const auto chosen = spread_windows(1000, 10);
  EXPECT_EQ(chosen.front(), 0u);
  EXPECT_EQ(chosen.back(), 900u);
}

TEST(TextCorpus, LoadChecksBothSidesHoldAWindow) {
  TempDir dir("corpus-short");
  write_file(dir.path() / "short", "tiny\n%\nsmall\n%\nwee\n");
  const std::string path = dir / "short";
  const std::string error = error_of([&] { load_text_corpus(path, 0.5, 1, 16); });
  EXPECT_NE(error.find(path + ": its "), std::string::npos) << error;
  EXPECT_NE(error.find("shorter than one window of context + 1 = 17 bytes"), std::string::npos) << error;
  const TextCorpus corpus = load_text_corpus(path, 0.5, 1, 2);  // windows of 3 bytes fit on both sides
  EXPECT_EQ(corpus.documents, 3u);
}

TEST(TextCorpus, BadInputsAreErrorsNamingThePath) {
  TempDir dir("corpus-bad");
  const std::string missing = dir / "missing";
  EXPECT_NE(error_of([&] { read_documents(missing); }).find(missing + ": no such file or directory"), std::string::npos);
  write_file(dir.path() / "empty", "");
  EXPECT_NE(error_of([&] { read_documents(dir / "empty"); }).find(dir / "empty" + ": the corpus is empty"),
            std::string::npos);
  write_file(dir.path() / "separators", "%\n%\n");
  EXPECT_NE(error_of([&] { read_documents(dir / "separators"); }).find("the corpus is empty"), std::string::npos);
  fs::create_directories(dir.path() / "empty-dir");
  EXPECT_NE(error_of([&] { read_documents(dir / "empty-dir"); }).find(dir / "empty-dir" + ": the directory holds no regular file"),
            std::string::npos);
  write_file(dir.path() / "binary", std::string("text\0more", 9));
  EXPECT_NE(error_of([&] { read_documents(dir / "binary"); }).find(dir / "binary" + ": byte 4 is NUL"), std::string::npos);
  EXPECT_NE(error_of([&] { read_documents("/dev/null"); }).find("/dev/null: is not a regular file"), std::string::npos);
  ASSERT_EQ(::mkfifo((dir.path() / "fifo").c_str(), 0600), 0);  // refused, without waiting for a writer
  EXPECT_NE(error_of([&] { read_documents(dir / "fifo"); }).find(dir / "fifo" + ": is not a regular file"),
            std::string::npos);
  // The default names the package that provides it.
  EXPECT_EQ(error_of([&] { read_documents(missing); }).find("apt-get install fortunes"), std::string::npos);
}

}  // namespace
}  // namespace ringmaster
