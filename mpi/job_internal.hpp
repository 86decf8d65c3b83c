// The Job class behind run_job(), shared by its phase files: job.cpp (the run
// from start to finish), job_inputs.cpp (config, model, input and device
// checks), job_plan.cpp (work split, batch size, the printed plan) and
// job_output.cpp (journal open/resume and the final output file).
#pragma once
#include <mpi.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend.hpp"
#include "batch_runner.hpp"
#include "batch_size.hpp"
#include "checkpoint.hpp"
#include "cuda_module.hpp"
#include "chunk_schedule.hpp"
#include "cli_options.hpp"
#include "config.hpp"
#include "dataset_reader.hpp"
#include "error_sync.hpp"
#include "gather_plan.hpp"
#include "model_io.hpp"
#include "mpi_handles.hpp"
#include "parallel_output.hpp"
#include "pipeline_backend.hpp"
#include "partition.hpp"
#include "row_map.hpp"
#include "run_report.hpp"
#include "stage_split.hpp"
#include "topology.hpp"

namespace mgi {

// "2026-01-31T12:00:00Z", for the output file's start and end attributes.
std::string utc_now();

class Job {
 public:
  Job(const CliOptions& opts, const Topology& topo, int thread_level)
      : opts_(opts), topo_(topo), thread_level_(thread_level) {}
  int run();

 private:
  void check_inputs();
  void print_plan();
  std::string input_dtype_line() const;
  void finish_output(const std::string& started);

  void plan_work();
  void choose_batch(int64_t rows, int sharing);
  void prepare_backend();
  void open_checkpoint();
  // Runs the compute phase; on an agreed interrupt (exit 75) rank 0 makes the
  // journal durable and says how to resume, and every rank leaves quietly.
  template <class F>
  RankStats run_interruptible(F&& f);
  bool dynamic() const { return cfg_.mode == "dynamic"; }
  bool parallel_writer() const { return cfg_.output.writer == "parallel"; }
  void open_parallel_output();
  void close_parallel_output();
  bool ragged() const { return !cfg_.input.offsets.empty() || vlen_.has_value(); }
  int64_t rows() const { return io_.ragged ? io_.ragged->rows() : readers_.front().rows(); }
  void open_inputs();
  // Pipeline stages (runtime.pipeline_stages = K > 1; mpi/pipeline_link.hpp):
  // checks np against K, splits the graph, makes the communicators and wraps
  // a leader's backend. Every rank, collective over the world.
  void setup_pipeline();
  // Runs f() on the leaders (stage 0 ranks; every rank when K = 1), whose
  // collectives go over comm_; with K > 1 the outcome is then agreed over the
  // world, so the stage ranks leave too when a leader fails.
  template <class F>
  void leaders_phase(F&& f);
  // A stage rank's backend for its stage at batch_ (after the leaders chose it).
  void prepare_stage();
  bool leader() const { return stage_ == 0; }
  std::vector<std::string> stage_lines() const;

  const CliOptions& opts_;
  const Topology& topo_;
  int thread_level_;
  MPI_Comm comm_ = MPI_COMM_WORLD;
  Config cfg_;
  std::string model_bytes_, model_sha_;
  Graph graph_;
  std::vector<DatasetReader> readers_;      // per input.dataset entry (ragged: the values)
  std::optional<VlenReader> vlen_;          // ragged rows of a variable-length dataset
  std::vector<InputDescription> inputs_;    // per input.dataset entry
  InputReaders input_readers_;              // what the batch runner reads through
  ModelIo io_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Checkpoint> checkpoint_;  // rank 0
  std::unique_ptr<ParallelOutput> parallel_;  // output.writer: parallel, every rank, while rows are written
  RowMap todo_ = RowMap::all(0);              // rows still to compute
  std::vector<Slice> slices_;
  GatherPlan gather_;
  std::vector<double> cost_prefix_;  // empty: every row costs 1
  std::vector<Task> tasks_;          // dynamic mode (same list on every rank)
  int64_t max_task_rows_ = 1;
  int64_t batch_ = 1;
  AutoBatchInput auto_in_;  // batch_size: auto: what the rule saw, and what it chose
  AutoBatch auto_out_;
  int64_t weight_bytes_ = 0;
  std::vector<RankInfo> ranks_;
  std::string device_note_;  // DeviceChoice::note: why auto runs on the CPU (for the plan)
  PlanSummary plan_;
  int64_t nonfinite_rows_ = 0;  // rank 0, counted while assembling the output
  // Pipeline stages. comm_ is the leaders' communicator (MPI_COMM_NULL on a
  // stage rank); work_rank_/work_size_ are this rank's place among them (the
  // replica index and count), which static and dynamic mode split rows over.
  MPI_Comm world_ = MPI_COMM_WORLD;
  int stages_ = 1, stage_ = 0;
  int work_rank_ = 0, work_size_ = 1;
  Comm leaders_, group_;
  std::unique_ptr<PipelineSplit> split_;
  PipelineBackend* pipeline_ = nullptr;   // backend_ on a leader
  pipe::LinkValues stage_in_, stage_out_;  // a stage rank's links
  int64_t activation_bytes_ = 0, buffer_bytes_ = 0;
  std::string pipeline_note_;  // auto / memory_limit: what the memory planning chose and why
};

template <class F>
void Job::leaders_phase(F&& f) {
  if (stages_ == 1) {
    f();
    return;
  }
  collectively(world_, [&] {
    if (stage_ == 0) f();
  });
}

}  // namespace mgi
