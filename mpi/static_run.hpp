// Static mode: each rank computes its contiguous slice window by window; rank
// 0 gathers every window with MPI_Gatherv (one derived row type per output)
// and journals each rank's block under its row numbers. With the parallel
// writer (parallel_output.hpp) every rank writes its window rows itself, in
// one collective write per window, and rank 0 gathers and journals only the
// blocks' index records, after the write returned on every rank. Slices are over the
// rows still to do (RowMap): all rows on a fresh run, the journal's holes on
// a resume.
#pragma once
#include <mpi.h>

#include <vector>

#include "backend.hpp"
#include "checkpoint.hpp"
#include "batch_runner.hpp"
#include "gather_plan.hpp"
#include "model_io.hpp"
#include "parallel_output.hpp"
#include "row_map.hpp"
#include "run_report.hpp"

namespace mgi {

struct StaticRun {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0;
  const RowMap* todo = nullptr;
  std::vector<Slice> slices;  // virtual rows of `todo`
  GatherPlan gather;
  int64_t batch_size = 1;
  const InputReaders* inputs = nullptr;
  Backend* backend = nullptr;
  const Graph* graph = nullptr;
  const ModelIo* io = nullptr;
  Checkpoint* checkpoint = nullptr;  // rank 0 only
  ParallelOutput* parallel = nullptr;  // output.writer: parallel (every rank); null: gather to rank 0
};

// Batches rank `rank` runs under this plan (windows may cut batches short).
int64_t static_batches(const Slice& slice, const GatherPlan& gather, int64_t batch_size);

// Collective. Errors on any rank end the run on all ranks (error_sync.hpp).
RankStats run_static(const StaticRun& run);

}  // namespace mgi
