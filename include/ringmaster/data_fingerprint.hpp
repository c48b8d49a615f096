// What a run's data was made of (docs/method.md §8 "Data fingerprints"): for every file a data source
// reads, in the order it reads them, the file's name, the size and the CRC-32 of the content the run
// trains on (a gzip file's decompressed bytes). A checkpoint records the fingerprint of its run's data and
// a resume compares it with the data found now, so a corpus or data set changed under the same path is
// an error naming what changed instead of a silently different experiment; the same comparison serves
// for any two holders of one data source (the ranks of a job).
//
// Every loader computes it while it reads (the bytes pass through memory once anyway): one function per
// data source — load_fashion_mnist and load_text_corpus fill it in — and one interface to ask for it,
// Objective::data_fingerprint(). CRC-32 (zlib's, as the checkpoint's own checksum) over the whole
// content, not a sample: a sample would miss an edit between the sampled bytes, and the whole content
// costs one pass at memory speed beside reading and parsing it. It guards against accident (a package
// upgrade, a file removed), not against forgery: a change keeps its size and CRC-32 with probability 2^-32.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringmaster {

struct FileFingerprint {
  std::string name;         // relative to the data source (a directory's entry; a single file's own name)
  std::uint64_t bytes = 0;  // of the content read (decompressed for a gzip file)
  std::uint32_t crc32 = 0;  // of those bytes

  bool operator==(const FileFingerprint&) const = default;
};

struct DataFingerprint {
  std::string source;                  // what was read, for messages: its key and path (not compared)
  std::vector<FileFingerprint> files;  // in reading order; empty for an objective without data

  bool operator==(const DataFingerprint& o) const { return files == o.files; }
};

// The fingerprint of `content`, the bytes read from the file `name`.
FileFingerprint fingerprint_of(std::string name, std::string_view content);

// What differs from `recorded` to `now`, in words, for one line of an error message: the files that
// disappeared, appeared, changed (size and CRC-32 before and after) or were read in another order; the
// first few of them, and how many more. nullopt when the two are equal.
std::optional<std::string> fingerprint_difference(const DataFingerprint& recorded, const DataFingerprint& now);

}  // namespace ringmaster
