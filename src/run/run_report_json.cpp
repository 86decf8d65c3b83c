#include "run_report_json.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "error.hpp"

namespace mgi {

std::string report_json(const PlanSummary& p, const std::vector<RankStats>& stats, double wall_s,
                        int exit_status, const std::string& config_text) {
  using nlohmann::json;
  json ranks = json::array();
  int64_t rows = 0;
  double busiest = 0, busy_sum = 0;
  for (size_t r = 0; r < stats.size(); ++r) {
    const RankStats& s = stats[r];
    const RankInfo& info = r < p.ranks.size() ? p.ranks[r] : RankInfo{};
    rows += s.rows;
    busiest = std::max(busiest, s.compute_s);
    busy_sum += s.compute_s;
    ranks.push_back({{"rank", info.rank}, {"host", info.host}, {"local_rank", info.local_rank},
                     {"device", info.device}, {"binding", info.binding}, {"rows", s.rows}, {"batches", s.batches}, {"tasks", s.tasks},
                     {"read_s", s.read_s}, {"compute_s", s.compute_s}, {"send_s", s.gather_s},
                     {"idle_s", s.idle_s}, {"write_s", s.write_s}, {"total_s", s.total_s}});
    if (s.stage >= 0) {
      ranks.back()["stage"] = s.stage;
      ranks.back()["stage_busy_s"] = s.stage_busy_s;
      ranks.back()["stage_idle_s"] = s.stage_idle_s;
      ranks.back()["weight_bytes"] = info.weight_bytes;
      ranks.back()["activation_bytes"] = info.activation_bytes;
      ranks.back()["buffer_bytes"] = info.buffer_bytes;
    }
  }
  double makespan = 0;
  for (const auto& s : stats) makespan = std::max(makespan, s.total_s);
  json j = {
      {"tool", "mgi-mpi"},
      {"version", MGI_VERSION},
      {"exit_status", exit_status},
      {"config", config_text},
      {"plan",
       {{"mode", p.mode}, {"input", p.input}, {"model", p.model}, {"output", p.output}, {"rows", p.rows},
        {"inputs", p.inputs}, {"padding", p.padding},
        {"split", p.split}, {"batch_size", p.batch_size}, {"ranks", p.ranks.size()}, {"nodes", p.nodes},
        {"tasks", p.tasks}, {"windows", p.windows}, {"window_rows", p.window_rows},
        {"window_bytes", p.window_bytes}}},
      {"ranks", ranks},
      {"totals",
       {{"rows", rows}, {"wall_s", wall_s}, {"run_s", makespan},
        {"rows_per_s", wall_s > 0 ? rows / wall_s : 0.0},
        {"compute_imbalance", busy_sum > 0 ? busiest / (busy_sum / stats.size()) : 1.0}}}};
  const PipelineTimes pt = pipeline_times(stats);
  if (!pt.busy_s.empty()) {
    json stages = json::array();
    for (size_t k = 0; k < pt.busy_s.size(); ++k) stages.push_back({{"stage", k}, {"busy_s", pt.busy_s[k]}, {"idle_s", pt.idle_s[k]}});
    j["pipeline"] = {{"stages", stages}, {"bubble", pt.bubble}, {"plan", p.stages}};
  }
  return j.dump(2) + "\n";
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw DataError("cannot write '" + tmp + "': " + std::strerror(errno));
    f << text;
    if (!f.flush()) throw DataError("cannot write '" + tmp + "': " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw DataError("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
}

}  // namespace mgi
