// Pipeline stages: one stage's graph run on a micro-batch (StageRunner, used by
// the leader's PipelineBackend and by the stage ranks), and the loop a stage
// rank s >= 1 runs for the whole job (serve_stage). See pipeline_link.hpp for
// the ring and the messages.
#pragma once
#include <mpi.h>

#include <string>
#include <vector>

#include "backend.hpp"
#include "pipeline_link.hpp"
#include "run_report.hpp"
#include "stage_split.hpp"

namespace mgi {

class StageRunner {
 public:
  // `out`: the values this stage sends (link_values of stage.sends).
  StageRunner(Backend& backend, const PipelineStage& stage, const pipe::LinkValues& out)
      : backend_(backend), stage_(stage), out_(out) {}
  // Runs the stage on its received values (in receives order: data and full
  // shapes, batch first) and writes a data message of its sends into `msg`.
  void run(int64_t id, int64_t rows, bool shaped, const std::vector<const void*>& in,
           const std::vector<Shape>& in_shapes, pipe::Message& msg);

 private:
  Backend& backend_;
  const PipelineStage& stage_;
  const pipe::LinkValues& out_;
  std::vector<const void*> ptrs_;
  std::vector<void*> outs_;
  std::vector<Shape> shapes_, out_shapes_;
  std::vector<std::vector<char>> scratch_;  // stage graph outputs that are not sent
};

struct StageServe {
  MPI_Comm group = MPI_COMM_NULL;  // the group's ring; this rank is stage `stage`
  int stage = 1, stages = 2;
  int world_rank = 0;
  std::string host;
  Backend* backend = nullptr;  // prepared for stage->graph
  const PipelineStage* stage_def = nullptr;
  pipe::LinkValues in, out;  // what this stage receives and sends
  int64_t batch = 1;
};

// Serves micro-batches until the leader's stop comes round the ring.
// Returns this rank's statistics (stage busy/idle); a stop with a non-zero
// code (the leaders agreed on a failure or an interrupt) throws PeerFailure
// with that code after the stop has been passed on.
RankStats serve_stage(const StageServe& s);

}  // namespace mgi
