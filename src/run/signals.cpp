#include "signals.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "error.hpp"

namespace mgi {

namespace {
std::atomic<int> first_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "signal flag must be lock-free");

extern "C" void on_signal(int sig) {
  int expected = 0;
  first_signal.compare_exchange_strong(expected, sig);
}
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  sigaction(SIGUSR2, &sa, nullptr);  // Open MPI's mpirun forwards USR1 and USR2 to the ranks
  std::signal(SIGXFSZ, SIG_IGN);
}

bool interrupt_requested() { return first_signal.load() != 0; }
int interrupt_signal() { return first_signal.load(); }
void request_interrupt(int sig) { on_signal(sig); }

void start_grace_watchdog(double seconds) {
  std::thread([seconds] {
    while (!interrupt_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    std::fprintf(stderr, "mgi-mpi: still running %.0f s after the signal (checkpoint.grace_seconds); "
                 "leaving now, the journal is consistent (exit 75)\n", seconds);
    std::fflush(stderr);
    std::_Exit(static_cast<int>(Exit::interrupted));
  }).detach();
}

void throw_if_interrupted() {
  const int sig = interrupt_signal();
  if (sig == 0) return;
  const char* name = sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGUSR2 ? "SIGUSR2" : strsignal(sig);
  throw Error(Exit::interrupted, std::string("interrupted by ") + name);
}

}  // namespace mgi
