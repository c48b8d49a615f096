// A message above INT_MAX bytes (6·10⁸ floats, 2.4 GB) travels between two real ranks exactly as the
// engine sends gradients: probed, its size read with received_bytes(), received in 64-byte units.
// Started alone, the test runs itself under `mpirun -np 2` (it needs ~5 GB of memory for a few seconds).
#include <gtest/gtest.h>

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
    m.set_header({42, 0.0, 0.0, 0.0, 0.0});
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

TEST(ProtocolTransfer, MessageAboveIntMaxBytesBetweenTwoRanks) {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr) {
    EXPECT_EQ(transfer(), 0);
    return;
  }
  const testing::Command cmd = testing::run(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ASAN_OPTIONS=detect_leaks=0 timeout 300 "
      "mpirun --oversubscribe -np 2 /proc/" + std::to_string(::getpid()) +
      "/exe --gtest_filter=ProtocolTransfer.MessageAboveIntMaxBytesBetweenTwoRanks");
  EXPECT_EQ(cmd.exit_code, 0) << cmd.output;
  EXPECT_NE(cmd.output.find("transferred 2400000064 bytes"), std::string::npos) << cmd.output;
}

}  // namespace
}  // namespace ringmaster::mpi
