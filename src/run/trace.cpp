#include "trace.hpp"

#include <atomic>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

namespace mgi {

namespace {
constexpr size_t kMaxEvents = size_t{1} << 20;  // per rank: bounds memory on long runs
std::atomic<bool> on{false};
Trace::Clock::time_point origin;
std::mutex mu;
std::vector<TraceEvent> events;
size_t dropped = 0;
}  // namespace

void Trace::enable(Clock::time_point o) {
  origin = o;
  on = true;
}

bool Trace::enabled() { return on.load(std::memory_order_relaxed); }

void Trace::record(const char* name, Clock::time_point start, Clock::time_point end, int tid) {
  TraceEvent e{};
  std::strncpy(e.name, name, sizeof e.name - 1);
  e.start_us = std::chrono::duration<double, std::micro>(start - origin).count();
  e.dur_us = std::chrono::duration<double, std::micro>(end - start).count();
  e.tid = tid;
  std::lock_guard<std::mutex> lock(mu);
  if (events.size() < kMaxEvents)
    events.push_back(e);
  else
    ++dropped;
}

std::vector<TraceEvent> Trace::take() {
  std::lock_guard<std::mutex> lock(mu);
  std::vector<TraceEvent> out;
  out.swap(events);
  return out;
}

double elapsed_span(const char* name, Trace::Clock::time_point t0, int tid) {
  const auto now = Trace::Clock::now();
  if (Trace::enabled()) Trace::record(name, t0, now, tid);
  return std::chrono::duration<double>(now - t0).count();
}

std::string trace_json(const std::vector<TraceEvent>& evs, const std::vector<std::string>& hosts) {
  using nlohmann::json;
  json list = json::array();
  for (size_t r = 0; r < hosts.size(); ++r) {
    list.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", r},
                    {"args", {{"name", "rank " + std::to_string(r) + " (" + hosts[r] + ")"}}}});
    list.push_back({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", r}, {"args", {{"sort_index", r}}}});
  }
  if (!hosts.empty())
    list.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", 1}, {"args", {{"name", "master"}}}});
  for (const auto& e : evs)
    list.push_back({{"name", std::string(e.name, strnlen(e.name, sizeof e.name))},
                    {"ph", "X"},
                    {"pid", e.rank},
                    {"tid", e.tid},
                    {"ts", e.start_us},
                    {"dur", e.dur_us}});
  return json{{"traceEvents", list}, {"displayTimeUnit", "ms"}}.dump() + "\n";
}

}  // namespace mgi
