#include "pipeline_backend.hpp"

#include <algorithm>
#include <cstring>

#include "error.hpp"
#include "mpi_check.hpp"
#include "trace.hpp"

namespace mgi {

namespace {
using Clock = Trace::Clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

PipelineBackend::PipelineBackend(std::unique_ptr<Backend> inner, const PipelineSplit& split, const Graph& full,
                                 MPI_Comm group, int64_t probe)
    : inner_(std::move(inner)), split_(split), full_(full), group_(group), probe_(probe),
      stages_(static_cast<int>(split.stages.size())), depth_(std::max(2, 2 * stages_)) {}

PipelineBackend::~PipelineBackend() {
  drain();
  wait_sends();
}

void PipelineBackend::wait_sends() noexcept {
  for (MPI_Request& r : sreq_)
    if (r != MPI_REQUEST_NULL) MPI_Wait(&r, MPI_STATUS_IGNORE);
}

void PipelineBackend::prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) {
  (void)graph;
  drain();
  wait_sends();
  const PipelineStage& s0 = split_.stages.front();
  std::vector<Shape> rows0;  // stage 0 receives the graph inputs, in order
  for (int from : s0.input_from) rows0.push_back(input_rows[static_cast<size_t>(from)]);
  inner_->prepare(s0.graph, rows0, max_batch);  // (s0.input_rows are those at the split's sample rows)
  input_rows_ = input_rows;
  out_ = link_values(full_, s0.sends, input_rows, probe_);
  back_ = link_values(full_, full_.outputs, input_rows, probe_);
  runner_ = std::make_unique<StageRunner>(*inner_, s0, out_);
  sbuf_.clear();
  rbuf_.clear();
  for (int i = 0; i < depth_; ++i) {
    sbuf_.push_back(inner_->host_buffer(out_.capacity(max_batch)));
    rbuf_.push_back(inner_->host_buffer(back_.capacity(max_batch)));
  }
  sreq_.assign(static_cast<size_t>(depth_), MPI_REQUEST_NULL);
  rreq_.assign(static_cast<size_t>(depth_), MPI_REQUEST_NULL);
  if (!progress_) progress_ = std::make_unique<pipe::ProgressThread>(group_);
}

void PipelineBackend::send(int64_t rows, bool shaped, const std::vector<Shape>& shapes,
                           const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  MGI_ASSERT(flight_.size() < static_cast<size_t>(depth_), "pipeline: more micro-batches than its depth");
  const int slot = static_cast<int>(submitted_ % depth_);
  auto t0 = Clock::now();
  if (sreq_[slot] != MPI_REQUEST_NULL) pipe::wait_polling(&sreq_[slot]);
  idle_s_ += since(t0);
  pipe::Message msg(sbuf_[slot].get(), out_);
  t0 = Clock::now();
  runner_->run(submitted_, rows, shaped, inputs, shapes, msg);
  busy_s_ += elapsed_span("stage", t0);
  // The reply first, so it is never unexpected; then the micro-batch.
  MGI_MPI(MPI_Irecv(rbuf_[slot].get(), static_cast<int>(rbuf_[slot].bytes()), MPI_BYTE,
                    stages_ - 1, pipe::kTag, group_, &rreq_[slot]));
  MGI_MPI(MPI_Isend(sbuf_[slot].get(), static_cast<int>(msg.size()), MPI_BYTE, 1, pipe::kTag, group_, &sreq_[slot]));
  flight_.push_back({slot, outputs});
  ++submitted_;
}

void PipelineBackend::submit(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  std::vector<Shape> shapes;
  for (const Shape& r : input_rows_) {
    shapes.push_back(r);
    shapes.back().insert(shapes.back().begin(), rows);
  }
  send(rows, false, shapes, inputs, outputs);
}

void PipelineBackend::collect() {
  MGI_ASSERT(!flight_.empty(), "pipeline: collect() without a micro-batch in flight");
  const InFlight f = flight_.front();
  flight_.pop_front();
  const auto t0 = Clock::now();
  pipe::wait_polling(&rreq_[f.slot]);
  idle_s_ += elapsed_span("stage-wait", t0);
  const pipe::Message msg(rbuf_[f.slot].get(), back_);
  if (msg.kind() == pipe::kError) throw Error(static_cast<Exit>(msg.exit_code()), msg.text());
  MGI_ASSERT(msg.kind() == pipe::kData, "pipeline: unexpected message from the last stage");
  for (size_t j = 0; j < f.outputs.size(); ++j) std::memcpy(f.outputs[j], msg.value(j), msg.value_bytes(j));
}

void PipelineBackend::run(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  submit(rows, inputs, outputs);
  collect();
}

void PipelineBackend::run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                                 const std::vector<void*>& outputs) {
  submit_shaped(input_shapes, inputs, outputs);
  collect();
}

void PipelineBackend::submit_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                                    const std::vector<void*>& outputs) {
  send(input_shapes.empty() ? 0 : input_shapes.front().front(), true, input_shapes, inputs, outputs);
}

void PipelineBackend::drain() noexcept {
  while (!flight_.empty()) {
    const InFlight f = flight_.front();
    flight_.pop_front();
    MPI_Wait(&rreq_[f.slot], MPI_STATUS_IGNORE);  // every micro-batch gets a reply (data or error)
  }
}

void PipelineBackend::stop(int code) {
  drain();
  for (MPI_Request& r : sreq_)  // checked: the stop must follow every micro-batch
    if (r != MPI_REQUEST_NULL) MGI_MPI(MPI_Wait(&r, MPI_STATUS_IGNORE));
  HostBuffer out = inner_->host_buffer(pipe::header_bytes(out_.types.size()));
  HostBuffer back = inner_->host_buffer(back_.capacity(1));
  pipe::Message msg(out.get(), out_);
  msg.set_stop(code);
  MPI_Request r = MPI_REQUEST_NULL;
  MGI_MPI(MPI_Irecv(back.get(), static_cast<int>(back_.capacity(1)), MPI_BYTE, stages_ - 1, pipe::kTag, group_, &r));
  MGI_MPI(MPI_Send(out.get(), static_cast<int>(msg.size()), MPI_BYTE, 1, pipe::kTag, group_));
  pipe::wait_polling(&r);
  progress_.reset();
}

}  // namespace mgi
