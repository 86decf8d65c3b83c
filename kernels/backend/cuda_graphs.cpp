// CUDA graphs for full batches (BackendOptions::cuda_graphs): each lane's
// compute-stream work for max_batch rows -- every node, then the copies of the
// outputs into the lane -- captured once in prepare() and replayed by
// enqueue_compute() (pipeline.cpp) for every later full batch.
//
// Why this is safe:
//   - Addresses: a graph bakes in the lane's input/output buffers and error
//     flag, the arena, the constants, the full batch's uploaded host values
//     (full_plan_, kept apart from the plan cache), the converted bf16/fp16
//     weights and conversion scratch and both GEMM workspaces. All are
//     allocated before the capture and freed only
//     by the next prepare() or the destructor, which destroy the graphs first
//     (lanes_.clear() / member order). One graph per lane, as each lane's inputs
//     and outputs live at their own addresses; the arena and workspaces are
//     shared, which is sound because every batch computes on the one stream.
//   - Scalars (alpha, beta, shapes, broadcast strides) are kernel arguments or
//     cuBLAS host-pointer-mode values, copied into the graph at capture; the
//     graph is used only for the shapes it was captured with (max_batch rows).
//   - Nothing lazy runs inside a capture: the warm-up already loaded modules,
//     made every cuBLASLt plan (heuristic queries) for max_batch rows and let
//     cuBLAS set itself up; cuBLAS uses our workspace (cublasSetWorkspace), not
//     allocations of its own. A plan made during a capture counts as a failure.
//   - Mode cudaStreamCaptureModeThreadLocal: a call this thread must not make
//     while capturing (cudaMalloc, a synchronization, the legacy stream) fails
//     the capture, and we fall back, rather than being let through as Relaxed
//     would; unlike Global, it does not make CUDA calls that other threads of
//     the process may make meanwhile (a page-locked allocation, another
//     backend's prepare) fail during the few milliseconds of capture.
//   - Cross-stream ordering stays outside the graph: submit() waits for the
//     lane's upload and previous download before the launch and records
//     `computed` after it, exactly as around the nodes.
// A failed capture or trial replay leaves the backend node by node: one
// warning line, and describe() says "without CUDA graphs (capture failed)".
#include <cstdio>
#include <string>

#include "cuda_backend.hpp"
#include "error.hpp"

namespace mgi::cuda {

namespace {

// Ends a capture an error cut short, so the stream takes ordinary work again;
// the partial graph is dropped.
void abandon_capture(cudaStream_t s) noexcept {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(s, &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t partial = nullptr;
    (void)cudaStreamEndCapture(s, &partial);
    if (partial) (void)cudaGraphDestroy(partial);
  }
  (void)cudaGetLastError();
}

}  // namespace

CudaGraphExec CudaBackend::capture_lane(int li, const BatchPlan& plan) {
  const cudaStream_t s = stream_.get();
  MGI_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue_nodes(li, plan);
  } catch (...) {
    abandon_capture(s);
    throw;
  }
  cudaGraph_t raw = nullptr;
  // Ends the capture even when it fails (an invalidated capture returns no graph).
  MGI_CUDA(cudaStreamEndCapture(s, &raw));
  const CudaGraph graph(raw);
  CudaGraphExec exec(graph);  // the template is no longer needed once instantiated
  exec.upload(s);
  return exec;
}

void CudaBackend::capture_graphs() {
  if (!options_.cuda_graphs) return;
  if (host_nodes_ > 0) {  // a host step synchronizes the stream: it cannot be captured
    graphs_off_ = "nodes run on the host (" + host_ops_ + ")";
    return;
  }
  const BatchPlan& plan = *full_plan_;
  const size_t plans = gemm_.plan_count();
  try {
    for (size_t li = 0; li < lanes_.size(); ++li) lanes_[li].graph = capture_lane(static_cast<int>(li), plan);
    MGI_ASSERT(gemm_.plan_count() == plans, "a cuBLASLt plan was made during the capture (the warm-up should have)");
    // One trial replay per lane (on the zeroed inputs): launch errors surface
    // here, where the backend can still fall back.
    for (const Lane& lane : lanes_) lane.graph.launch(stream_.get());
    stream_.synchronize();
    graphs_active_ = true;
  } catch (const Error& e) {
    abandon_capture(stream_.get());
    (void)cudaStreamSynchronize(stream_.get());
    (void)cudaGetLastError();
    for (Lane& lane : lanes_) lane.graph.reset();
    graphs_off_ = e.what();
    if (!graphs_warned_) {
      std::fprintf(stderr, "mgi-mpi: warning: %s: CUDA graph capture failed, full batches run node by node: %s\n",
                   description_.c_str(), e.what());
      graphs_warned_ = true;
    }
  }
}

}  // namespace mgi::cuda
