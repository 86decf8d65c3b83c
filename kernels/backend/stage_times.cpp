// The CUDA backend's stage bounds for the benchmark (Backend::time_stages):
// upload, compute and download of one batch, each alone on lane 0 with the
// other streams idle, timed by CUDA events recorded on that stage's stream.
// Compute takes the path a submitted batch of the same size takes: the lane's
// CUDA graph for a full batch when graphs are on, else the nodes one by one
// (so the time includes the host's launch overhead where the GPU outruns it).
#include <algorithm>
#include <limits>
#include <string>

#include "cuda_backend.hpp"
#include "error.hpp"

namespace mgi::cuda {

Backend::StageTimes CudaBackend::time_stages(int64_t rows, const std::vector<const void*>& inputs,
                                             const std::vector<void*>& outputs, int repeats) {
  check_batch(rows, inputs.size(), outputs.size(), "time_stages()");
  MGI_ASSERT(busy_.empty(),
             "CUDA backend: time_stages() with " + std::to_string(busy_.size()) + " batch(es) outstanding");
  MGI_CUDA(cudaSetDevice(device_));
  const BatchPlan& plan = plan_for(rows);
  const std::vector<Shape>& shapes = plan.shapes;
  constexpr int li = 0;
  Lane& lane = lanes_[static_cast<size_t>(li)];
  const Event start(true), stop(true);
  // Seconds from `start` to `stop` recorded around what `enqueue` puts on stream s.
  auto timed = [&](cudaStream_t s, auto&& enqueue) {
    start.record(s);
    enqueue();
    stop.record(s);
    stop.synchronize();
    return double(stop.elapsed_ms_since(start)) * 1e-3;
  };
  constexpr double inf = std::numeric_limits<double>::infinity();
  StageTimes best{inf, inf, inf};
  try {
    // Pageable inputs are copied into the lane's page-locked stage once,
    // before any clock starts: H2D times the transfer itself.
    const std::vector<const void*> src = stage_inputs(lane, inputs, shapes);
    for (int r = 0; r < std::max(repeats, 1); ++r) {
      // Each stage is finished (stop synchronized) before the next is queued.
      best.h2d_s = std::min(best.h2d_s, timed(h2d_.get(), [&] { enqueue_upload(lane, src, shapes); }));
      best.compute_s = std::min(best.compute_s, timed(stream_.get(), [&] { enqueue_compute(li, rows, plan); }));
      best.d2h_s = std::min(best.d2h_s, timed(d2h_.get(), [&] { enqueue_download(lane, outputs, shapes); }));
      finish_download(lane);  // stage -> pageable outputs, after the clock
      check_errors(lane);
    }
  } catch (...) {
    sync_all();
    throw;
  }
  return best;
}

}  // namespace mgi::cuda
