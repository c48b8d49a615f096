// A text corpus for the gpt objective (docs/method.md §6): bytes are tokens (vocabulary 256). The loader
// knows nothing about any model: it reads documents, splits them by document into a training and a
// validation byte stream, and cuts a stream into windows of context + 1 bytes.
//
// Where documents come from (objective.gpt.corpus):
//   - a plain file: documents are separated by lines holding only `%` (the fortune file format); a file
//     without such a line is one document;
//   - a directory: each of its regular files in sorted order, read as above. Not read: subdirectories
//     and what is not a regular file, a file already read under another name (a symlink or hard link to
//     it: the package's `*.u8` names are links to the plain files), and `NAME.dat` beside a `NAME`
//     (strfile's binary index of a fortune file).
// The default is the Debian package `fortunes` (/usr/share/games/fortunes: ~15,200 entries, 2.6 MB).
// A document is its bytes up to the `%` line (its last line's newline included); empty documents are
// dropped. Byte 0 (NUL) marks the end of a document in the streams, so a text holding one is refused.
//
// Memory: the files' bytes are read into one buffer, documents are found in it by scanning (no string per
// document: 25 million tiny documents would cost 32 bytes of string each plus their allocations), and
// the split writes the two streams from it; while it runs the buffer, the streams and 4 bytes per
// document (the shuffle) are held, about twice the corpus. Afterwards only the streams stay.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ringmaster/data_fingerprint.hpp"

namespace ringmaster {

inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";
// The end-of-document token: written after every document in both streams, so the model learns where a
// document ends, and what follows it is the start of one (ringmaster sample starts its prompt with it).
inline constexpr std::uint8_t kEndOfDocument = 0;
// The most bytes a corpus may have: it is read whole into memory, on every rank.
inline constexpr std::size_t kMaxCorpusBytes = std::size_t{1} << 30;

// A corpus as read: its files' bytes back to back and where each ends, its document count and its
// fingerprint (data_fingerprint.hpp: a directory's file names, a single file's own name).
struct CorpusText {
  std::string text;                    // every file's bytes, in reading order
  std::vector<std::size_t> file_ends;  // offset in `text` where each file's bytes end
  std::size_t documents = 0;
  DataFingerprint fingerprint;
};

// Reads the files of `path` in the order above, each under the reader policy (input_file.hpp). Throws
// Error naming the path (and the package for the default) when it is missing, unreadable, not a file or
// directory, holds a NUL byte, is larger than kMaxCorpusBytes, or has no document at all.
CorpusText read_corpus(const std::string& path);

// The bytes of the files read_corpus would read (fstat's sizes, nothing read): what the memory estimate
// counts (config.cpp). 0 when the corpus cannot be listed: reading it then says why.
std::uint64_t corpus_bytes(const std::string& path);

// The documents of one file's text, in order: separated by lines holding only `%`, empty ones dropped;
// each without its separator.
template <class Visit>
void for_each_document(std::string_view text, Visit&& visit) {
  std::size_t document_begin = 0;
  for (std::size_t line = 0; line < text.size();) {
    const std::size_t newline = text.find('\n', line);
    const std::size_t end = newline == std::string_view::npos ? text.size() : newline;
    if (end - line == 1 && text[line] == '%') {
      if (line > document_begin) visit(text.substr(document_begin, line - document_begin));
      document_begin = std::min(end + 1, text.size());
    }
    line = end + 1;
  }
  if (text.size() > document_begin) visit(text.substr(document_begin));
}

// The documents of a corpus, file by file (a document never spans two files).
template <class Visit>
void for_each_document(const CorpusText& corpus, Visit&& visit) {
  std::size_t begin = 0;
  for (std::size_t end : corpus.file_ends) {
    for_each_document(std::string_view(corpus.text).substr(begin, end - begin), visit);
    begin = end;
  }
}

struct TextCorpus {
  std::vector<std::uint8_t> train;       // the training documents in corpus order, each followed by kEndOfDocument
  std::vector<std::uint8_t> validation;  // the validation documents, likewise
  std::size_t documents = 0;             // in the corpus
  std::vector<std::uint32_t> validation_documents;  // indices of the held-out documents, ascending
  DataFingerprint fingerprint;           // of the files it was read from
};

// Splits the documents of `corpus` by document: round(fraction · n) of them, at least 1 and at most n − 1,
// go to validation, chosen by a shuffle seeded from `seed` alone (the same split on every rank and every
// run of that seed). Throws Error (naming `source`) for fewer than two documents.
TextCorpus split_documents(const CorpusText& corpus, double validation_fraction, std::uint64_t seed,
                           const std::string& source);

// read_corpus + split_documents, and each stream must hold at least one window of context + 1 bytes
// (an Error naming the path otherwise).
TextCorpus load_text_corpus(const std::string& path, double validation_fraction, std::uint64_t seed, int context);

// The documents of `path` (read_documents: a file or a directory, as a corpus is read) as one stream in their
// order, each followed by kEndOfDocument: a text to evaluate a network on (ringmaster eval --data). Throws
// Error naming the path when it cannot be read or is shorter than one window of context + 1 bytes.
std::vector<std::uint8_t> load_text_stream(const std::string& path, int context);

// The windows of a stream (docs/method.md §6): window i is bytes [i·T, i·T + T] — T inputs and, shifted
// by one, their T next bytes as targets. Consecutive windows share one byte (the last target of one is
// the first input of the next): inputs never overlap, and every byte but the first is a target exactly
// once per pass over the windows. The tail of fewer than T bytes after the last whole window is left out.
std::size_t window_count(std::size_t stream_bytes, int context);
inline const std::uint8_t* window(std::span<const std::uint8_t> stream, std::size_t i, int context) {
  return stream.data() + i * static_cast<std::size_t>(context);
}

// `count` of a stream's `windows`, spread evenly over it (window ⌊j · windows / count⌋ for j < count; all
// of them when count ≥ windows): a fixed subset that samples every part of the stream, not only its start.
std::vector<std::uint32_t> spread_windows(std::size_t windows, std::size_t count);

}  // namespace ringmaster
