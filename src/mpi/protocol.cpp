#include "mpi/protocol.hpp"

#include <algorithm>
#include <spdlog/fmt/fmt.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <ctime>
#include <limits>
#include <string>
#include <string_view>

#include "ringmaster/error.hpp"
#include "ringmaster/fnv1a.hpp"
#include "ringmaster/run.hpp"
#include "ringmaster/server.hpp"

namespace ringmaster::mpi {

void Backoff::sleep() {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(current_);
  ts.tv_nsec = static_cast<long>((current_ - static_cast<double>(ts.tv_sec)) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  current_ = std::min(current_ * growth_, max_);
}

void SignalReport::poll() {
  if (signal_ != 0 || stop_signal() == 0) return;
  signal_ = stop_signal();
  check(MPI_Isend(&signal_, 1, MPI_INT, 0, kTagSignal, comm_, &request_), "MPI_Isend");
}

void SignalReport::finish(Backoff& backoff) {
  if (request_ != MPI_REQUEST_NULL) wait(request_, nullptr, backoff);
}

void tighten_timer_slack() { prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL); }  // 1 µs

bool improbe(int source, int tag, MPI_Comm comm, MPI_Message* message, MPI_Status* status) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    int found = 0;
    check(MPI_Improbe(source, tag, comm, &found, message, status), "MPI_Improbe");
    if (found) return true;
  }
  return false;
}

void wait(MPI_Request& request, MPI_Status* status, Backoff& backoff) {
  backoff.reset();
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, status ? status : MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    backoff.sleep();
  }
}

bool wait_until(MPI_Request& request, double deadline, Backoff& backoff) {
  backoff.reset();
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return true;
    if (MPI_Wtime() > deadline) return false;
    backoff.sleep();
  }
}

int unit_count(std::size_t bytes) {
  const std::size_t units = bytes / kUnitBytes;
  if (bytes % kUnitBytes != 0 || units > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw Error("message of " + std::to_string(bytes) + " bytes: not a whole number of " +
                std::to_string(kUnitBytes) + "-byte units below MPI's int count limit");
  return static_cast<int>(units);
}

int float_count(std::size_t floats) {
  if (floats > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw Error("a server shard's slice of " + std::to_string(floats) +
                " floats is beyond MPI's int count limit: use more server.shards");
  return static_cast<int>(floats);
}

MPI_Datatype unit_type() {
  static const MPI_Datatype type = [] {
    MPI_Datatype t = MPI_DATATYPE_NULL;
    check(MPI_Type_contiguous(static_cast<int>(kUnitBytes), MPI_BYTE, &t), "MPI_Type_contiguous");
    check(MPI_Type_commit(&t), "MPI_Type_commit");
    return t;
  }();
  return type;
}

std::size_t received_bytes(const MPI_Status& status) {
  MPI_Count bytes = 0;
  // Counts the basic elements (bytes) of unit_type(), partial units included.
  check(MPI_Get_elements_x(&status, unit_type(), &bytes), "MPI_Get_elements_x");
  return bytes == MPI_UNDEFINED ? 0 : static_cast<std::size_t>(bytes);
}

double peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0;  // kilobytes on Linux
}

MPI_Comm make_loop_comm() {
  MPI_Comm comm = MPI_COMM_NULL;
  check(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  return comm;
}

std::uint64_t protocol_fingerprint() {
  const std::string text =
      fmt::format("{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}/{}", RINGMASTER_VERSION, sizeof(PointHeader),
                  sizeof(GradientHeader), sizeof(StatsMessage), kUnitBytes, +kTagPoint, +kTagGradient, +kTagStats,
                  +kTagClock, +kTagSignal, +kTagAck, +kTagGradientHeader, +kTagDecision, +kTagShardSlice,
                  sizeof(Decision), sizeof(ShardState), +kTagPointSlice, +kTagShardProgress);
  return fnv1a(text);
}

std::uint64_t outcome_hash(const Outcome& outcome) {
  std::uint64_t hash = kFnv1aOffset;
  const auto mix = [&hash](std::int64_t value) {  // its 8 bytes, least significant first, on any machine
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
    hash = fnv1a(std::string_view(bytes, sizeof bytes), hash);
  };
  mix(static_cast<std::int64_t>(outcome.action));
  mix(outcome.updated ? 1 : 0);
  mix(static_cast<std::int64_t>(outcome.assign.size()));
  for (int w : outcome.assign) mix(w);
  mix(static_cast<std::int64_t>(outcome.interrupted.size()));
  for (const Interrupt& i : outcome.interrupted) {
    mix(i.worker);
    mix(i.version);
  }
  mix(static_cast<std::int64_t>(outcome.retired.size()));
  for (int w : outcome.retired) mix(w);
  return hash;
}

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

}  // namespace ringmaster::mpi
