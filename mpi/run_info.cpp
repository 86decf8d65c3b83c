#include "run_info.hpp"

#include <cstring>

#include "mpi_handles.hpp"

namespace mgi {

namespace {
// Fixed-size text fields keep the gather a single MPI_Gather.
constexpr int kText = 96;
struct PackedInfo {
  int64_t first_row, rows, batches;
  int64_t weight_bytes, activation_bytes, buffer_bytes;
  int rank, local_rank, stage;
  char host[kText];
  char device[2 * kText];  // printed in full by the summary
  char binding[2 * kText];
  char note[3 * kText];
};

template <size_t N>
void copy_text(char (&dst)[N], const std::string& s) {
  std::strncpy(dst, s.c_str(), N - 1);
  dst[N - 1] = 0;
}
}  // namespace

std::vector<RankInfo> gather_rank_info(const RankInfo& mine, MPI_Comm comm) {
  int size = 0;
  MGI_MPI(MPI_Comm_size(comm, &size));
  PackedInfo p{};
  p.first_row = mine.first_row;
  p.rows = mine.rows;
  p.batches = mine.batches;
  p.rank = mine.rank;
  p.local_rank = mine.local_rank;
  p.stage = mine.stage;
  p.weight_bytes = mine.weight_bytes;
  p.activation_bytes = mine.activation_bytes;
  p.buffer_bytes = mine.buffer_bytes;
  copy_text(p.host, mine.host);
  copy_text(p.device, mine.device);
  copy_text(p.binding, mine.binding);
  copy_text(p.note, mine.note);
  std::vector<PackedInfo> all(size);
  MGI_MPI(MPI_Allgather(&p, sizeof p, MPI_BYTE, all.data(), sizeof p, MPI_BYTE, comm));
  std::vector<RankInfo> out;
  for (const auto& a : all)
    out.push_back({a.rank, a.host, a.local_rank, a.device, a.first_row, a.rows, a.batches, a.binding, a.note,
                   a.stage, a.weight_bytes, a.activation_bytes, a.buffer_bytes});
  return out;
}

std::vector<RankStats> gather_rank_stats(const RankStats& mine, MPI_Comm comm) {
  int size = 0, rank = 0;
  MGI_MPI(MPI_Comm_size(comm, &size));
  MGI_MPI(MPI_Comm_rank(comm, &rank));
  std::vector<RankStats> all(rank == 0 ? size : 0);
  MGI_MPI(MPI_Gather(&mine, sizeof mine, MPI_BYTE, all.data(), sizeof mine, MPI_BYTE, 0, comm));
  return all;
}

std::vector<TraceEvent> gather_trace(std::vector<TraceEvent> mine, MPI_Comm comm) {
  int size = 0, rank = 0;
  MGI_MPI(MPI_Comm_size(comm, &size));
  MGI_MPI(MPI_Comm_rank(comm, &rank));
  for (auto& e : mine) e.rank = rank;
  MPI_Datatype event = MPI_DATATYPE_NULL;  // one event as bytes: counts stay small
  MGI_MPI(MPI_Type_contiguous(static_cast<int>(sizeof(TraceEvent)), MPI_BYTE, &event));
  MGI_MPI(MPI_Type_commit(&event));
  int n = static_cast<int>(mine.size());
  std::vector<int> counts(size), displs(size);
  MGI_MPI(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm));
  int64_t total = 0;
  for (int r = 0; r < size; ++r) {
    displs[r] = static_cast<int>(total);
    total += counts[r];
  }
  std::vector<TraceEvent> all(rank == 0 ? static_cast<size_t>(total) : 0);
  MGI_MPI(MPI_Gatherv(mine.data(), n, event, all.data(), counts.data(), displs.data(), event, 0, comm));
  MPI_Type_free(&event);
  return all;
}

}  // namespace mgi
