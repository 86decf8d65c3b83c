#include "run_report.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace mgi {

namespace {
std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}
}  // namespace

std::string format_plan(const PlanSummary& p) {
  std::string s = "plan: mode " + p.mode + ", " + std::to_string(p.ranks.size()) + " rank(s) on " +
                  std::to_string(p.nodes) + " node(s)\n";
  if (p.inputs.empty()) {
    s += "  input   " + p.input + "  " + p.input_shape + " " + p.input_dtype + "\n";
  } else {
    s += "  input   " + p.input + " (" + std::to_string(p.rows) + " rows)\n";
    for (const auto& line : p.inputs) s += "    " + line + "\n";
  }
  if (!p.padding.empty()) s += "  padding " + p.padding + "\n";
  s += "  model   " + p.model + "\n";
  for (const auto& o : p.outputs) s += "  output  " + o + "\n";
  s += "  into    " + p.output + "\n";
  if (!p.resume.empty()) s += "  journal " + p.resume + "\n";
  if (p.tasks >= 0)
    s += fmt("  batch   %lld rows%s; %lld task(s), largest first: %lld .. %lld rows (cost by %s); "
             "at most %s of results per task\n",
             static_cast<long long>(p.batch_size), p.batch_note.c_str(), static_cast<long long>(p.tasks),
             static_cast<long long>(p.largest_task), static_cast<long long>(p.smallest_task),
             p.split.c_str(), human_bytes(p.window_bytes).c_str());
  else
    s += fmt("  batch   %lld rows%s; split by %s; gather window %lld rows/rank (%s at rank 0), %lld window(s)\n",
             static_cast<long long>(p.batch_size), p.batch_note.c_str(), p.split.c_str(),
             static_cast<long long>(p.window_rows), human_bytes(p.window_bytes).c_str(),
             static_cast<long long>(p.windows));
  for (const auto& line : p.stages) s += "  " + line + "\n";
  // One line per distinct note (the CUDA backend missing on some hosts), naming the hosts.
  std::vector<std::string> notes;
  for (const auto& r : p.ranks)
    if (!r.note.empty() && std::find(notes.begin(), notes.end(), r.note) == notes.end()) notes.push_back(r.note);
  for (const auto& n : notes) {
    std::vector<std::string> hosts;
    for (const auto& r : p.ranks)
      if (r.note == n && std::find(hosts.begin(), hosts.end(), r.host) == hosts.end()) hosts.push_back(r.host);
    std::string where;
    for (size_t h = 0; h < hosts.size() && h < 4; ++h) where += (h ? ", " : "") + hosts[h];
    if (hosts.size() > 4) where += " and " + std::to_string(hosts.size() - 4) + " more";
    s += "  device  " + n + " on host" + (hosts.size() == 1 ? " " : "s ") + where + ": running on the CPU\n";
  }
  s += fmt("  %4s  %-16s %5s  %-36s %12s %12s %8s  %s\n", "rank", "host", "local", "device", "first row",
           "rows", "batches", "binding");
  for (const auto& r : p.ranks) {
    if (r.stage > 0)  // pipeline stages: a later stage of its leader's rows
      s += fmt("  %4d  %-16s %5d  %-36s %12s %12s %8s  %s\n", r.rank, r.host.c_str(), r.local_rank,
               r.device.c_str(), "-", ("stage " + std::to_string(r.stage + 1)).c_str(), "-", r.binding.c_str());
    else if (r.rows < 0)  // dynamic: rows are handed out at run time
      s += fmt("  %4d  %-16s %5d  %-36s %12s %12s %8s  %s\n", r.rank, r.host.c_str(), r.local_rank,
               r.device.c_str(), "-", "by task", "-", r.binding.c_str());
    else
      s += fmt("  %4d  %-16s %5d  %-36s %12lld %12lld %8lld  %s\n", r.rank, r.host.c_str(), r.local_rank,
               r.device.c_str(), static_cast<long long>(r.first_row), static_cast<long long>(r.rows),
               static_cast<long long>(r.batches), r.binding.c_str());
  }
  return s;
}

PipelineTimes pipeline_times(const std::vector<RankStats>& stats) {
  PipelineTimes t;
  double busy = 0, idle = 0;
  for (const auto& st : stats) {
    if (st.stage < 0) continue;
    const size_t k = static_cast<size_t>(st.stage);
    if (t.busy_s.size() <= k) {
      t.busy_s.resize(k + 1, 0.0);
      t.idle_s.resize(k + 1, 0.0);
    }
    t.busy_s[k] += st.stage_busy_s;
    t.idle_s[k] += st.stage_idle_s;
    busy += st.stage_busy_s;
    idle += st.stage_idle_s;
  }
  t.bubble = busy + idle > 0 ? idle / (busy + idle) : 0.0;
  return t;
}

std::string format_summary(const std::vector<RankInfo>& ranks, const std::vector<RankStats>& stats,
                           double wall_s, const std::string& output) {
  int64_t total = 0;
  double busiest = 0, sum_busy = 0;
  for (const auto& st : stats) {
    total += st.rows;
    busiest = std::max(busiest, st.compute_s);
    sum_busy += st.compute_s;
  }
  std::string s = fmt("summary: %lld rows in %.3f s (%.0f rows/s) -> %s\n", static_cast<long long>(total),
                      wall_s, wall_s > 0 ? total / wall_s : 0.0, output.c_str());
  // The device comes last, in full (it can be long: backend, kernel, threads, precision).
  s += fmt("  %4s  %-16s %10s %8s %6s %9s %9s %9s %9s %9s %11s  %s\n", "rank", "host", "rows", "batches", "tasks",
           "read s", "compute s", "send s", "wait s", "write s", "rows/s", "device");
  for (size_t r = 0; r < stats.size() && r < ranks.size(); ++r) {
    const auto& st = stats[r];
    s += fmt("  %4d  %-16s %10lld %8lld %6lld %9.3f %9.3f %9.3f %9.3f %9.3f %11.0f  ", ranks[r].rank,
             ranks[r].host.c_str(), static_cast<long long>(st.rows), static_cast<long long>(st.batches),
             static_cast<long long>(st.tasks), st.read_s, st.compute_s, st.gather_s, st.idle_s, st.write_s,
             st.total_s > 0 ? st.rows / st.total_s : 0.0);
    s += ranks[r].device + "\n";  // not through fmt's buffer: never cut
  }
  const double mean = stats.empty() ? 0 : sum_busy / stats.size();
  s += fmt("  compute imbalance (max/mean): %.2f\n", mean > 0 ? busiest / mean : 1.0);
  const PipelineTimes pt = pipeline_times(stats);
  if (!pt.busy_s.empty()) {
    // Per stage: its ranks and the memory each holds, and its busy and waiting
    // time summed over the replicas.
    for (size_t k = 0; k < pt.busy_s.size(); ++k) {
      std::string who;
      const RankInfo* any = nullptr;
      for (const auto& r : ranks)
        if (r.stage == static_cast<int>(k)) {
          who += (who.empty() ? "" : ",") + std::to_string(r.rank);
          any = &r;
        }
      s += fmt("  pipeline stage %zu (rank%s %s): busy %.3f s, waiting %.3f s", k + 1,
               who.find(',') != std::string::npos ? "s" : "", who.c_str(), pt.busy_s[k], pt.idle_s[k]);
      if (any)
        s += "; per rank " + human_bytes(any->weight_bytes) + " weights, " + human_bytes(any->activation_bytes) +
             " activations, " + human_bytes(any->buffer_bytes) + " micro-batch buffers";
      s += "\n";
    }
    s += fmt("  pipeline bubble: %.1f%% of stage time spent waiting\n", 100.0 * pt.bubble);
  }
  return s;
}

}  // namespace mgi
