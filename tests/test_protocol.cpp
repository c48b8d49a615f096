// The MPI engine's message layer (src/mpi/protocol.hpp): message sizes of any magnitude, padded to
// whole 64-byte units and counted in them, and the layout of a message in its buffer. In-process: no
// MPI call is made (test_protocol_transfer moves a message above INT_MAX bytes between two ranks).
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>

#include "mpi/protocol.hpp"
#include "ringmaster/error.hpp"

namespace ringmaster::mpi {
namespace {

TEST(Protocol, MessageSizesArePaddedToWholeUnits) {
  for (std::size_t header : {sizeof(PointHeader), sizeof(GradientHeader)}) {
    for (std::size_t floats : {0ul, 1ul, 6ul, 12ul, 13ul, 16ul, 576ul, 4096ul, 1000003ul}) {
      const std::size_t raw = header + floats * sizeof(float);
      const std::size_t bytes = message_bytes(header, floats);
      EXPECT_EQ(bytes % kUnitBytes, 0u) << header << " + " << floats;
      EXPECT_GE(bytes, raw);
      EXPECT_LT(bytes, raw + kUnitBytes);
      EXPECT_EQ(static_cast<std::size_t>(unit_count(bytes)) * kUnitBytes, bytes);
    }
  }
}

// 6·10⁸ floats (a 2.4 GB layout, which the configuration allows) overflowed the int byte count of a
// single MPI_BYTE transfer; counted in 64-byte units it is 37.5 million, and counts reach 128 GiB.
TEST(Protocol, SizesAboveIntMaxBytesAreCountedInUnits) {
  const std::size_t floats = 600'000'000;
  const std::size_t bytes = message_bytes(sizeof(GradientHeader), floats);
  EXPECT_GT(bytes, static_cast<std::size_t>(INT_MAX));
  EXPECT_EQ(bytes, (sizeof(GradientHeader) + 4 * floats + 63) / 64 * 64);
  EXPECT_EQ(static_cast<std::size_t>(unit_count(bytes)), bytes / kUnitBytes);
  const std::size_t largest = static_cast<std::size_t>(INT_MAX) * kUnitBytes;  // ~128 GiB
  EXPECT_EQ(unit_count(largest), INT_MAX);
  EXPECT_THROW(unit_count(largest + kUnitBytes), Error);  // beyond what an int count can say: an error, no wrap
  EXPECT_THROW(unit_count(100), Error);                   // not a whole number of units
}

TEST(Protocol, MessageHoldsHeaderThenPayloadInOneAlignedPaddedBuffer) {
  GradientMessage m(10);  // 40 + 40 bytes → two units
  EXPECT_EQ(m.bytes(), 128u);
  EXPECT_EQ(m.units(), 2);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.data()) % 64, 0u);
  ASSERT_EQ(m.payload().size(), 10u);
  EXPECT_EQ(reinterpret_cast<std::byte*>(m.payload().data()), static_cast<std::byte*>(m.data()) + sizeof(GradientHeader));
  for (float v : m.payload()) EXPECT_EQ(v, 0.0f);  // the padding and payload start zeroed: nothing uninitialized is sent
  m.set_header({7, 1.5, 0.25, 0.125, 3.0, 1});
  m.payload()[9] = 4.0f;
  EXPECT_EQ(m.header().version, 7);
  EXPECT_EQ(m.header().sent_at, 3.0);
  EXPECT_EQ(m.payload()[9], 4.0f);
  PointMessage stop(0);  // a stop is header only: one unit
  EXPECT_EQ(stop.units(), 1);
}

}  // namespace
}  // namespace ringmaster::mpi
