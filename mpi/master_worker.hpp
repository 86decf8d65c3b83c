// Dynamic mode: rank 0 runs a master thread that hands out tasks (row ranges,
// largest first) and journals results as they arrive; every rank, rank 0
// included, runs a worker that keeps one task prefetched so it never waits on
// the master between tasks. Needs MPI_THREAD_MULTIPLE. With one rank there is
// no master thread and no messages: the worker takes tasks in row order,
// merges adjacent ones, and journals its results itself.
//
// With the parallel writer (parallel_output.hpp) each worker writes its task's
// rows into the file itself (independent MPI-IO writes) and its kResult
// carries the block's index record instead of the rows; the master journals
// it (the rows are written before the message is sent).
//
// Messages (two duplicated communicators, so the master thread and rank 0's
// worker never receive each other's messages):
//   requests:  worker -> master  kRequest | kResult (+ one kResultData per output; parallel
//                                writer: {id, begin, end, crc, flagged} and no data) | kFail | kDone
//   replies:   master -> worker  kAssign {id, begin, end}; begin < 0 means stop
#pragma once
#include <mpi.h>

#include <string>
#include <vector>

#include "backend.hpp"
#include "checkpoint.hpp"
#include "chunk_schedule.hpp"
#include "batch_runner.hpp"
#include "model_io.hpp"
#include "parallel_output.hpp"
#include "run_report.hpp"

namespace mgi {

struct DynamicRun {
  MPI_Comm comm = MPI_COMM_WORLD;
  int rank = 0, size = 1;
  std::vector<Task> tasks;  // physical row ranges; used on rank 0
  int64_t max_task_rows = 1;
  int64_t batch_size = 1;
  const InputReaders* inputs = nullptr;
  Backend* backend = nullptr;
  const Graph* graph = nullptr;
  const ModelIo* io = nullptr;
  Checkpoint* checkpoint = nullptr;  // rank 0 only
  ParallelOutput* parallel = nullptr;  // output.writer: parallel (every rank); null: results sent to rank 0
};

// Collective. A failed task is reported by its rank with the row range; all
// ranks then stop (error_sync.hpp).
RankStats run_dynamic(const DynamicRun& run);

}  // namespace mgi
