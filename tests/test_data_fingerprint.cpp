// Data fingerprints (data_fingerprint.hpp): a resume compares the one its checkpoint recorded with the
// data found now, and the message says which files disappeared, appeared or changed.
#include "ringmaster/data_fingerprint.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

namespace ringmaster {
namespace {

TEST(DataFingerprint, OfContentIsItsSizeAndZlibsCrc32) {
  const std::string text = "the quick brown fox\n";
  const FileFingerprint f = fingerprint_of("fox", text);
  EXPECT_EQ(f.name, "fox");
  EXPECT_EQ(f.bytes, text.size());
  EXPECT_EQ(f.crc32, crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size())));
  EXPECT_EQ(fingerprint_of("empty", "").crc32, 0u);
}

TEST(DataFingerprint, DifferenceNamesWhatChanged) {
  const DataFingerprint before{"dir", {{"a", 1, 1}, {"b", 2, 2}, {"c", 3, 3}}};
  EXPECT_EQ(fingerprint_difference(before, before), std::nullopt);
  // The source is what was read, for messages: the files alone are compared.
  EXPECT_EQ(fingerprint_difference(before, DataFingerprint{"elsewhere", before.files}), std::nullopt);
  EXPECT_EQ(fingerprint_difference(before, {"dir", {{"a", 1, 1}, {"c", 3, 3}}}),
            "b disappeared (it had 2 bytes, CRC-32 00000002)");
  EXPECT_EQ(fingerprint_difference(before, {"dir", {{"a", 1, 1}, {"b", 2, 9}, {"c", 3, 3}, {"d", 4, 4}}}),
            "b changed (2 bytes, CRC-32 00000002 then, 2 bytes, CRC-32 00000009 now); d appeared (4 bytes, CRC-32 "
            "00000004)");
  EXPECT_EQ(fingerprint_difference(before, {"dir", {{"c", 3, 3}, {"b", 2, 2}, {"a", 1, 1}}}),
            "the same files are read in another order");
  // A whole directory replaced: the first three differences and a count, on one line.
  const std::string many = *fingerprint_difference(before, {"dir", {{"x", 1, 1}, {"y", 1, 1}}});
  EXPECT_EQ(many, "a disappeared (it had 1 bytes, CRC-32 00000001); b disappeared (it had 2 bytes, CRC-32 00000002); "
                  "c disappeared (it had 3 bytes, CRC-32 00000003); and 2 more");
  // An objective without data against one with: its files all appeared.
  EXPECT_EQ(fingerprint_difference({}, {"dir", {{"a", 1, 1}}}), "a appeared (1 bytes, CRC-32 00000001)");
}

}  // namespace
}  // namespace ringmaster
