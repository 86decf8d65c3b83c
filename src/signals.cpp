#include "signals.hpp"

#include <atomic>
#include <csignal>

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
  std::signal(SIGXFSZ, SIG_IGN);
}

bool interrupt_requested() { return first_signal.load() != 0; }
int interrupt_signal() { return first_signal.load(); }
void request_interrupt(int sig) { on_signal(sig); }

}  // namespace mgi
