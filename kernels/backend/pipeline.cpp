// The CUDA backend's batch pipeline: run(), submit()/collect()/drain() over
// the lanes, and the three stages of a batch that submit() chains by events
// and time_stages() times one by one:
//   upload   (h2d_ stream)     callers' inputs -> the lane's device inputs
//   compute  (compute stream)  the nodes, or the lane's CUDA graph for a full
//                              batch, then the outputs out of the arena into the lane
//   download (d2h_ stream)     the lane's device outputs -> callers' outputs
// Event records and waits stay outside the compute stage, so a captured graph
// holds only compute-stream work and the lanes chain the same with or without it.
#include <cstring>
#include <string>

#include "cuda_backend.hpp"
#include "error.hpp"
#include "storage_math.hpp"

namespace mgi::cuda {

namespace {

// Caller memory that is already page-locked is copied directly, without staging.
bool is_pinned(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

}  // namespace

void CudaBackend::check_batch(int64_t rows, size_t inputs, size_t outputs, const char* what) const {
  MGI_ASSERT(prepared_, std::string("CUDA backend: ") + what + " before prepare()");
  MGI_ASSERT(rows >= 1 && rows <= max_batch_, "CUDA backend: a batch of " + std::to_string(rows) +
                                                   " rows, prepared for 1.." + std::to_string(max_batch_));
  MGI_ASSERT(inputs == graph_.inputs.size() && outputs == graph_.outputs.size(),
             "CUDA backend: a batch needs one pointer per graph input and output");
}

void CudaBackend::run(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  MGI_ASSERT(busy_.empty(), "CUDA backend: run() with " + std::to_string(busy_.size()) + " batch(es) outstanding");
  submit(rows, inputs, outputs);
  collect();
}

std::vector<const void*> CudaBackend::stage_inputs(Lane& lane, const std::vector<const void*>& inputs,
                                                   const std::vector<Shape>& shapes) {
  std::vector<const void*> src(inputs.size(), nullptr);
  for (size_t k = 0; k < inputs.size(); ++k) {
    const int v = graph_.inputs[k];
    const size_t bytes = value_bytes(v, shapes[static_cast<size_t>(v)]);
    src[k] = inputs[k];
    if (bytes == 0 || is_pinned(inputs[k])) continue;
    // The lane's previous upload from the stage is done: its batch was collected.
    if (!lane.in_stage.get()) lane.in_stage = PinnedBuffer(in_bytes_);
    std::memcpy(lane.in_stage.bytes_ptr() + in_at_[k], inputs[k], bytes);
    src[k] = lane.in_stage.bytes_ptr() + in_at_[k];
  }
  return src;
}

void CudaBackend::enqueue_upload(Lane& lane, const std::vector<const void*>& src, const std::vector<Shape>& shapes) {
  for (size_t k = 0; k < src.size(); ++k) {
    const int v = graph_.inputs[k];
    const size_t bytes = value_bytes(v, shapes[static_cast<size_t>(v)]);
    if (bytes)
      MGI_CUDA(cudaMemcpyAsync(lane.in.bytes_ptr() + in_at_[k], src[k], bytes, cudaMemcpyHostToDevice, h2d_.get()));
  }
}

// Exactly what a lane's CUDA graph holds (cuda_graphs.cpp captures this for a full batch).
void CudaBackend::enqueue_nodes(int li, const BatchPlan& plan) {
  Lane& lane = lanes_[static_cast<size_t>(li)];
  lane_ = li;
  plan_ = &plan;
  int* flag = static_cast<int*>(lane.flag.get());
  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni) execute(ni, plan, flag);
  // Outputs leave the arena at once, so the next batch may compute while this one downloads.
  for (size_t k = 0; k < graph_.outputs.size(); ++k) {
    const int v = graph_.outputs[k];
    const size_t bytes = value_bytes(v, plan.shapes[static_cast<size_t>(v)]);
    if (bytes)
      MGI_CUDA(cudaMemcpyAsync(lane.out.bytes_ptr() + out_at_[k], data(v), bytes, cudaMemcpyDeviceToDevice,
                               stream_.get()));
  }
  // The error flag travels with the batch (read by check_errors() once it is collected) and is cleared for the next.
  MGI_CUDA(cudaMemcpyAsync(lane.flag_host.get(), flag, sizeof(int), cudaMemcpyDeviceToHost, stream_.get()));
  MGI_CUDA(cudaMemsetAsync(flag, 0, sizeof(int), stream_.get()));
}

void CudaBackend::enqueue_compute(int li, int64_t rows, const BatchPlan& plan) {
  Lane& lane = lanes_[static_cast<size_t>(li)];
  if (rows == max_batch_ && graphs_active_ && lane.graph) {
    lane.graph.launch(stream_.get());
    ++graph_launches_;
    return;
  }
  enqueue_nodes(li, plan);
}

void CudaBackend::enqueue_download(Lane& lane, const std::vector<void*>& outputs, const std::vector<Shape>& shapes) {
  // Straight into page-locked caller memory, else into the stage (copied out by finish_download()).
  lane.dst.assign(outputs.size(), nullptr);
  lane.dst_bytes.assign(outputs.size(), 0);
  for (size_t k = 0; k < outputs.size(); ++k) {
    const int v = graph_.outputs[k];
    const size_t bytes = value_bytes(v, shapes[static_cast<size_t>(v)]);
    if (bytes == 0) continue;
    void* dst = outputs[k];
    if (!is_pinned(dst)) {
      if (!lane.out_stage.get()) lane.out_stage = PinnedBuffer(out_bytes_);
      dst = lane.out_stage.bytes_ptr() + out_at_[k];
      lane.dst[k] = outputs[k];
      lane.dst_bytes[k] = bytes;
    }
    MGI_CUDA(cudaMemcpyAsync(dst, lane.out.bytes_ptr() + out_at_[k], bytes, cudaMemcpyDeviceToHost, d2h_.get()));
  }
}

void CudaBackend::finish_download(const Lane& lane) const {
  for (size_t k = 0; k < lane.dst.size(); ++k)
    if (lane.dst[k]) std::memcpy(lane.dst[k], lane.out_stage.bytes_ptr() + out_at_[k], lane.dst_bytes[k]);
}

void CudaBackend::submit(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  check_batch(rows, inputs.size(), outputs.size(), "submit()");
  MGI_ASSERT(busy_.size() < lanes_.size(), "CUDA backend: submit() with every lane busy (collect() first)");
  MGI_CUDA(cudaSetDevice(device_));
  enqueue_batch(rows, plan_for(rows), inputs, outputs, true);
}

void CudaBackend::run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                             const std::vector<void*>& outputs) {
  MGI_ASSERT(busy_.empty(), "CUDA backend: run_shaped() with " + std::to_string(busy_.size()) + " batch(es) outstanding");
  if (input_shapes.size() != inputs.size() || input_shapes.empty())
    throw RuntimeError("CUDA backend: run_shaped() got " + std::to_string(input_shapes.size()) + " shapes for " +
                       std::to_string(inputs.size()) + " inputs");
  const int64_t rows = input_shapes[0].empty() ? 0 : input_shapes[0][0];
  check_batch(rows, inputs.size(), outputs.size(), "run_shaped()");
  for (size_t k = 0; k < input_shapes.size(); ++k) {
    const Shape& s = input_shapes[k];
    bool ok = s.size() == input_rows_[k].size() + 1 && s[0] == rows;
    for (size_t d = 1; ok && d < s.size(); ++d) ok = s[d] >= 0 && s[d] <= input_rows_[k][d - 1];
    if (!ok) {
      Shape most{max_batch_};
      most.insert(most.end(), input_rows_[k].begin(), input_rows_[k].end());
      throw RuntimeError("CUDA backend: input '" + graph_.input_name(k) + "' has shape " + shape_str(s) +
                         "; prepared for at most " + shape_str(most) + " (and the same rows as input 0)");
    }
  }
  MGI_CUDA(cudaSetDevice(device_));
  enqueue_batch(rows, plan_for(input_shapes), inputs, outputs, false);
  collect();
}

void CudaBackend::enqueue_batch(int64_t rows, const BatchPlan& plan, const std::vector<const void*>& inputs,
                                const std::vector<void*>& outputs, bool may_graph) {
  const std::vector<Shape>& shapes = plan.shapes;
  const int li = next_lane_;
  Lane& lane = lanes_[static_cast<size_t>(li)];
  try {
    // Upload, once the lane's previous batch has finished reading its inputs
    // (that batch was collected, so this is only a guard).
    MGI_CUDA(cudaStreamWaitEvent(h2d_.get(), lane.computed.get(), 0));
    enqueue_upload(lane, stage_inputs(lane, inputs, shapes), shapes);
    lane.loaded.record(h2d_.get());

    // Compute after the upload, and after the lane's previous download freed its output buffer.
    MGI_CUDA(cudaStreamWaitEvent(stream_.get(), lane.loaded.get(), 0));
    MGI_CUDA(cudaStreamWaitEvent(stream_.get(), lane.unloaded.get(), 0));
    if (may_graph)
      enqueue_compute(li, rows, plan);
    else
      enqueue_nodes(li, plan);
    lane.computed.record(stream_.get());

    MGI_CUDA(cudaStreamWaitEvent(d2h_.get(), lane.computed.get(), 0));
    enqueue_download(lane, outputs, shapes);
    lane.unloaded.record(d2h_.get());
  } catch (...) {
    sync_all();  // nothing of a half-queued batch may run on after the error
    throw;
  }
  busy_.push_back(li);
  next_lane_ = (li + 1) % static_cast<int>(lanes_.size());
}

void CudaBackend::collect() {
  MGI_ASSERT(!busy_.empty(), "CUDA backend: collect() without an outstanding batch");
  const int li = busy_.front();
  busy_.pop_front();  // finished, even if it failed
  Lane& lane = lanes_[static_cast<size_t>(li)];
  MGI_CUDA(cudaSetDevice(device_));
  lane.unloaded.synchronize();  // also where errors inside kernels surface
  finish_download(lane);
  check_errors(lane);
}

void CudaBackend::drain() noexcept {
  if (busy_.empty()) return;
  (void)cudaSetDevice(device_);
  sync_all();
  busy_.clear();
}

}  // namespace mgi::cuda
