// The leader's side of pipeline stages (runtime.pipeline_stages = K > 1): a
// Backend that runs stage 0 of the graph on the real backend and sends each
// micro-batch on to stage 1 (pipeline_link.hpp); collect() takes the graph's
// outputs of the oldest micro-batch back from the last stage. Static and
// dynamic mode and the BatchRunner use it as any backend, so rows, windows,
// tasks, the journal and the gather are exactly those of a single rank; its
// pipeline_depth() keeps 2 K micro-batches in flight, so that every stage has
// work once the pipeline is full.
//
// An error on a later stage comes back in place of the micro-batch's outputs
// and is thrown by collect(), naming the stage and its rank; drain() takes
// every outstanding reply, so the ring is empty before stop() is sent.
#pragma once
#include <mpi.h>

#include <deque>
#include <memory>
#include <vector>

#include "backend.hpp"
#include "pipeline_link.hpp"
#include "pipeline_stage.hpp"
#include "stage_split.hpp"

namespace mgi {

class PipelineBackend : public Backend {
 public:
  // `full`: the whole graph (outlives this); `group`: the ring, this rank stage 0.
  // `probe`: rows the shapes are probed at (1, or the model's fixed batch).
  PipelineBackend(std::unique_ptr<Backend> inner, const PipelineSplit& split, const Graph& full, MPI_Comm group,
                  int64_t probe);
  ~PipelineBackend() override;

  std::string describe() const override { return inner_->describe(); }
  // Prepares stage 0's graph (not `graph`, the whole one) and the message buffers.
  void prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) override;
  void run(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) override;
  void run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                  const std::vector<void*>& outputs) override;
  bool supports_shaped() const override { return inner_->supports_shaped(); }
  int pipeline_depth() const override { return depth_; }
  int shaped_pipeline_depth() const override { return depth_; }
  void submit_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                     const std::vector<void*>& outputs) override;
  void submit(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) override;
  void collect() override;
  void drain() noexcept override;
  HostBuffer host_buffer(size_t bytes) override { return inner_->host_buffer(bytes); }
  MemoryInfo memory_info() const override { return inner_->memory_info(); }
  int64_t planned_bytes(int64_t rows) const override { return inner_->planned_bytes(rows); }

  // After the run (nothing outstanding): passes a stop with `code` (0, or the
  // agreed exit code) round the ring and waits for it to come back.
  void stop(int code);
  // Stage 0's time computing, and waiting for the pipeline (outputs of the
  // oldest micro-batch, or a send buffer).
  double busy_s() const { return busy_s_; }
  double idle_s() const { return idle_s_; }

 private:
  // Waits for every micro-batch send still in flight (their buffers are reused or freed next).
  void wait_sends() noexcept;
  void send(int64_t rows, bool shaped, const std::vector<Shape>& shapes, const std::vector<const void*>& inputs,
            const std::vector<void*>& outputs);

  std::unique_ptr<Backend> inner_;
  const PipelineSplit& split_;
  const Graph& full_;
  MPI_Comm group_;
  int64_t probe_;
  int stages_;
  int depth_;
  std::vector<Shape> input_rows_;
  pipe::LinkValues out_, back_;  // stage 0's sends; the graph outputs coming back
  std::unique_ptr<StageRunner> runner_;
  std::vector<HostBuffer> sbuf_, rbuf_;
  std::vector<MPI_Request> sreq_, rreq_;
  struct InFlight {
    int slot;
    std::vector<void*> outputs;
  };
  std::deque<InFlight> flight_;
  std::unique_ptr<pipe::ProgressThread> progress_;  // from prepare() to stop()
  int64_t submitted_ = 0;
  double busy_s_ = 0, idle_s_ = 0;
};

}  // namespace mgi
