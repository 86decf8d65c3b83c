// Timeline spans for `--trace FILE`: per-rank read / compute / gather / send /
// wait, written by rank 0 as Chrome trace-event JSON (opens in Perfetto and
// chrome://tracing). Off unless enabled; recording a span is a clock read and
// a push under a mutex (the dynamic master thread records too).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace mgi {

struct TraceEvent {
  char name[16];
  double start_us;  // since the run's common origin
  double dur_us;
  int32_t tid;      // 0 = main thread, 1 = dynamic master thread
  int32_t rank;
};

class Trace {
 public:
  using Clock = std::chrono::steady_clock;
  static void enable(Clock::time_point origin);
  static bool enabled();
  static void record(const char* name, Clock::time_point start, Clock::time_point end, int tid = 0);
  static std::vector<TraceEvent> take();  // this process's events (and clears them)
};

// Records [construction, destruction) as a span when tracing is on.
class TraceSpan {
 public:
  explicit TraceSpan(const char* name, int tid = 0)
      : name_(name), tid_(tid), start_(Trace::enabled() ? Trace::Clock::now() : Trace::Clock::time_point{}) {}
  ~TraceSpan() {
    if (Trace::enabled()) Trace::record(name_, start_, Trace::Clock::now(), tid_);
  }
  TraceSpan(const TraceSpan&) = delete;
  TraceSpan& operator=(const TraceSpan&) = delete;

 private:
  const char* name_;
  int tid_;
  Trace::Clock::time_point start_;
};

// Seconds since t0; also records [t0, now) as a span named `name` when tracing.
double elapsed_span(const char* name, Trace::Clock::time_point t0, int tid = 0);

// Chrome trace-event JSON for all ranks' events; hosts[r] names rank r.
std::string trace_json(const std::vector<TraceEvent>& events, const std::vector<std::string>& hosts);

}  // namespace mgi
