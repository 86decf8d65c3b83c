// The JSON report of a run (--report FILE): config, plan, per-rank statistics
// and totals, for scripts, dashboards and the benchmarks.
#pragma once
#include <string>
#include <vector>

#include "run_report.hpp"

namespace mgi {

std::string report_json(const PlanSummary& plan, const std::vector<RankStats>& stats, double wall_s,
                        int exit_status, const std::string& config_text);

// Writes `text` to `path` (via a temporary name and rename). Throws DataError.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace mgi
