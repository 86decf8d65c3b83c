#include "progress.hpp"

#include <unistd.h>

#include <string>

namespace mgi {

namespace {
std::string clock_text(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const long t = static_cast<long>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm%02lds", t / 3600, (t / 60) % 60, t % 60);
  else if (t >= 60)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}
// Open MPI hands each rank a pseudo-terminal even when mpirun's own output
// goes to a pipe or a log, so isatty() alone would redraw lines into logs.
// Redraw only when the launching process's stdout is a terminal too.
bool on_terminal(std::FILE* out) {
  if (!isatty(fileno(out))) return false;
  char link[256] = {0};
  const std::string fd = "/proc/" + std::to_string(getppid()) + "/fd/1";
  const ssize_t n = readlink(fd.c_str(), link, sizeof link - 1);
  if (n <= 0) return false;
  const std::string target(link, static_cast<size_t>(n));
  return target.rfind("/dev/pts/", 0) == 0 || target.rfind("/dev/tty", 0) == 0;
}
}  // namespace

Progress::Progress(int64_t total, double interval, std::FILE* out)
    : total_(total), interval_(interval), out_(out), tty_(on_terminal(out)) {
  start_ = last_ = std::chrono::steady_clock::now();
}

std::string Progress::format(int64_t done, int64_t total, double seconds) {
  const double rate = seconds > 0 ? done / seconds : 0;
  const double pct = total > 0 ? 100.0 * done / total : 100.0;
  const std::string eta = rate > 0 ? clock_text((total - done) / rate) : "?";
  char buf[160];
  std::snprintf(buf, sizeof buf, "progress: %lld / %lld rows (%.1f%%), %.0f rows/s, elapsed %s, ETA %s",
                static_cast<long long>(done), static_cast<long long>(total), pct, rate, clock_text(seconds).c_str(),
                eta.c_str());
  return buf;
}

void Progress::add(int64_t rows) {
  done_ += rows;
  if (interval_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  if (since_last >= (tty_ ? 0.5 : interval_)) {
    last_ = now;
    print(false);
  }
}

void Progress::print(bool final_line) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = format(done_, total_, s);
  if (tty_)
    std::fprintf(out_, "\r%s\033[K%s", line.c_str(), final_line ? "\n" : "");
  else
    std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void Progress::finish() {
  if (interval_ > 0 && tty_ && done_ > 0) print(true);
}

}  // namespace mgi
