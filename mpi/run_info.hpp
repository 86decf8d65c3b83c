// Gathers the per-rank plan rows and run statistics to rank 0 for printing.
#pragma once
#include <mpi.h>

#include <vector>

#include "run_report.hpp"
#include "trace.hpp"

namespace mgi {

// Every rank gets every rank's plan row, in rank order.
std::vector<RankInfo> gather_rank_info(const RankInfo& mine, MPI_Comm comm);
// Rank 0 gets every rank's statistics; the others get an empty vector.
std::vector<RankStats> gather_rank_stats(const RankStats& mine, MPI_Comm comm);

// Rank 0 gets every rank's trace events (tagged with their rank).
std::vector<TraceEvent> gather_trace(std::vector<TraceEvent> mine, MPI_Comm comm);

}  // namespace mgi
