// What rank 0 prints: the plan before work and the per-rank summary after.
// Pure formatting; the MPI layer gathers the numbers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "format.hpp"  // human_bytes, used with the plan

namespace mgi {

struct RankInfo {
  int rank = 0;
  std::string host;
  int local_rank = 0;
  std::string device;  // "cpu (2 threads)", "cuda:0 NVIDIA H100 ..."
  int64_t first_row = 0, rows = 0, batches = 0;
  std::string binding;  // where the node-local rank and devices came from: "SLURM_LOCALID=1 CUDA_VISIBLE_DEVICES=0,1"
  // Why runtime.device: auto chose the CPU when CUDA was built but could not be
  // loaded here: "cuda not loaded (libcudart.so.13: cannot open ...)"; usually empty.
  std::string note;
  // Pipeline stages: this rank's stage (0-based; -1 without stages) and the
  // memory it holds: the stage's weights, its activations at the batch size,
  // and the micro-batch message buffers.
  int stage = -1;
  int64_t weight_bytes = 0, activation_bytes = 0, buffer_bytes = 0;
};

struct RankStats {
  int64_t rows = 0, batches = 0, tasks = 0;  // tasks: dynamic mode
  double read_s = 0, compute_s = 0;
  double gather_s = 0;  // static: in MPI_Gatherv; dynamic: sending results
  double idle_s = 0;    // static: waiting for the slowest rank of a window; dynamic: for an assignment
  double write_s = 0, total_s = 0;
  // Pipeline stages (runtime.pipeline_stages > 1): this rank's stage (0-based;
  // -1 without stages), the time its stage computed and the time it waited
  // for a micro-batch while the pipeline ran (its share of the bubble).
  int64_t stage = -1;
  double stage_busy_s = 0, stage_idle_s = 0;
};

struct PlanSummary {
  std::string mode, input, model, output;
  int64_t rows = 0;
  std::string input_shape, input_dtype;
  std::vector<std::string> inputs;   // per model input: "input_ids <- /ids [100, 16] int32 -> int64"
  std::string padding;               // ragged input: how batches are padded
  std::vector<std::string> outputs;  // "probs -> /probs [10]"
  int64_t batch_size = 0;
  std::string batch_note;            // "(auto)" etc.
  std::string split = "rows";           // static: rows | cost (...)
  int64_t window_rows = 0, windows = 0, window_bytes = 0;
  int64_t tasks = -1, largest_task = 0, smallest_task = 0;  // dynamic mode (tasks >= 0)
  int nodes = 1;
  std::string resume;                // "fresh" or "resuming: ..."
  std::vector<RankInfo> ranks;
  std::vector<std::string> stages;   // pipeline stages: the lines of the plan's stage section
};

std::string format_plan(const PlanSummary& p);

// Pipeline stages: per stage, the busy and waiting seconds summed over the
// replicas, and the bubble (waiting / (busy + waiting), all stages). Empty
// without stages.
struct PipelineTimes {
  std::vector<double> busy_s, idle_s;
  double bubble = 0;
};
PipelineTimes pipeline_times(const std::vector<RankStats>& stats);
std::string format_summary(const std::vector<RankInfo>& ranks, const std::vector<RankStats>& stats,
                           double wall_s, const std::string& output);

}  // namespace mgi
