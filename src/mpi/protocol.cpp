#include "mpi/protocol.hpp"

#include <algorithm>
#include <sys/prctl.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <string>

#include "ringmaster/error.hpp"

namespace ringmaster::mpi {

void Backoff::sleep() {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(current_);
  ts.tv_nsec = static_cast<long>((current_ - static_cast<double>(ts.tv_sec)) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  current_ = std::min(current_ * growth_, max_);
}

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }
}  // namespace

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGTERM, SIGINT, SIGUSR1}) sigaction(signal, &action, nullptr);
}

int stop_signal() { return g_stop_signal; }

void tighten_timer_slack() { prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL); }  // 1 µs

void wait(MPI_Request& request, MPI_Status* status, Backoff& backoff) {
  backoff.reset();
  for (;;) {
    int done = 0;
    check(MPI_Test(&request, &done, status ? status : MPI_STATUS_IGNORE), "MPI_Test");
    if (done) return;
    backoff.sleep();
  }
}

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw Error(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

}  // namespace ringmaster::mpi
