// A message above INT_MAX bytes (6·10⁸ floats, 2.4 GB) travels between two real ranks exactly as the
// engine sends gradients: probed, its size read with received_bytes(), received in 64-byte units; and
// as the engine sends points: a nonblocking send from the server's shared buffer, probed and received
// by the worker without blocking, every float compared. Started alone, each test runs itself under
// `mpirun -np 2` (it needs ~5 GB of memory for a few seconds).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>

#include "mpi/protocol.hpp"
#include "support.hpp"

namespace ringmaster::mpi {
namespace {

constexpr std::size_t kFloats = 600'000'000;

// Inside mpirun: rank 1 sends, rank 0 probes, receives and checks; returns the failures found.
int transfer() {
  MPI_Init(nullptr, nullptr);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm comm = make_loop_comm();
  GradientMessage m(kFloats);
  int failures = 0;
  if (rank == 1) {
    m.set_header({42, 0.0, 0.0, 0.0, 0.0, 1});
    m.payload()[0] = 1.0f;
    m.payload()[kFloats / 2] = 2.0f;
    m.payload()[kFloats - 1] = 3.0f;
    check(MPI_Send(m.data(), m.units(), unit_type(), 0, kTagGradient, comm), "MPI_Send");
  } else {
    MPI_Message message = MPI_MESSAGE_NULL;
    MPI_Status status;
    check(MPI_Mprobe(1, kTagGradient, comm, &message, &status), "MPI_Mprobe");
    if (received_bytes(status) != m.bytes()) {
      std::fprintf(stderr, "probed %zu bytes, expected %zu\n", received_bytes(status), m.bytes());
      ++failures;
    }
    check(MPI_Mrecv(m.data(), m.units(), unit_type(), &message, &status), "MPI_Mrecv");
    if (received_bytes(status) != m.bytes()) ++failures;
    if (m.header().version != 42 || m.payload()[0] != 1.0f || m.payload()[kFloats / 2] != 2.0f ||
        m.payload()[kFloats - 1] != 3.0f || m.payload()[1] != 0.0f) {
      std::fprintf(stderr, "payload differs\n");
      ++failures;
    }
    if (failures == 0) std::printf("transferred %zu bytes\n", m.bytes());
  }
  MPI_Comm_free(&comm);
  MPI_Finalize();
  return failures;
}

// A point's floats: distinct along each 2^24-float stretch, exact in float.
float pattern(std::size_t i) { return static_cast<float>(i & 0xFFFFFF) + 1.0f; }

// Inside mpirun: rank 0 sends a point the way the server does (MPI_Isend, tested until done), rank 1
// receives it the way a worker does (MPI_Improbe, then MPI_Imrecv, tested until done); both check the
// unit counts, and rank 1 every float. Returns the failures found.
int transfer_point() {
  MPI_Init(nullptr, nullptr);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm comm = make_loop_comm();
  PointMessage m(kFloats);
  Backoff backoff(20e-6, 1e-3);
  int failures = 0;
  const std::size_t expected_units = (sizeof(PointHeader) + 4 * kFloats + 63) / 64;
  if (static_cast<std::size_t>(m.units()) != expected_units || m.bytes() != 64 * expected_units) ++failures;
  MPI_Request request = MPI_REQUEST_NULL;
  if (rank == 0) {
    m.set_header({7, kCommandWork, kStopDone});
    for (std::size_t i = 0; i < kFloats; ++i) m.payload()[i] = pattern(i);
    const PointMessage& shared = m;  // the server sends from a const, shared buffer
    check(MPI_Isend(shared.data(), shared.units(), unit_type(), 1, kTagPoint, comm, &request), "MPI_Isend");
    wait(request, nullptr, backoff);
  } else {
    int found = 0;
    MPI_Message message = MPI_MESSAGE_NULL;
    MPI_Status status;
    while (!found) {
      check(MPI_Improbe(0, kTagPoint, comm, &found, &message, &status), "MPI_Improbe");
      if (!found) backoff.sleep();
    }
    const std::size_t bytes = received_bytes(status);
    if (bytes != m.bytes()) {
      std::fprintf(stderr, "probed %zu bytes, expected %zu\n", bytes, m.bytes());
      ++failures;
    }
    check(MPI_Imrecv(m.data(), unit_count(bytes), unit_type(), &message, &request), "MPI_Imrecv");
    wait(request, &status, backoff);
    if (received_bytes(status) != m.bytes()) ++failures;
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < kFloats; ++i) wrong += m.payload()[i] != pattern(i);
    if (m.header().version != 7 || m.header().command != kCommandWork || wrong != 0) {
      std::fprintf(stderr, "point differs: version %lld, %zu floats wrong\n",
                   static_cast<long long>(m.header().version), wrong);
      ++failures;
    }
    if (failures == 0) std::printf("received a point of %zu bytes in %zu units\n", m.bytes(), expected_units);
  }
  MPI_Comm_free(&comm);
  MPI_Finalize();
  return failures;
}

// Inside mpirun, `inside` (no failures expected); started alone, this test binary running only the
// test `name` under `mpirun -np 2`, which must succeed and print `line`.
void on_two_ranks(const std::string& name, int (*inside)(), const std::string& line) {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
    EXPECT_EQ(inside(), 0);
    return;
  }
  const testing::Command cmd = testing::run(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 timeout 300 "
      "mpirun --oversubscribe -np 2 /proc/" + std::to_string(::getpid()) + "/exe --gtest_filter=ProtocolTransfer." +
      name);
  EXPECT_EQ(cmd.exit_code, 0) << cmd.output;
  EXPECT_NE(cmd.output.find(line), std::string::npos) << cmd.output;
}

TEST(ProtocolTransfer, PointAboveIntMaxBytesNonblocking) {
  // 16 + 4 · 6·10⁸ bytes, padded: 37,500,001 units of 64 bytes
  on_two_ranks("PointAboveIntMaxBytesNonblocking", transfer_point,
               "received a point of 2400000064 bytes in 37500001 units");
}

TEST(ProtocolTransfer, MessageAboveIntMaxBytesBetweenTwoRanks) {
  on_two_ranks("MessageAboveIntMaxBytesBetweenTwoRanks", transfer, "transferred 2400000064 bytes");
}

}  // namespace
}  // namespace ringmaster::mpi
