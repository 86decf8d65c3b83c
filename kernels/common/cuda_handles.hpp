// RAII owners of CUDA streams, events and graphs and of cuBLAS / cuBLASLt handles.
#pragma once
#include <utility>

#include "cuda_check.hpp"

namespace mgi::cuda {

// Non-blocking stream: never serializes with the legacy default stream.
class Stream {
 public:
  Stream() { MGI_CUDA(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() {
    if (s_) (void)cudaStreamDestroy(s_);
  }
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaStream_t get() const { return s_; }
  void synchronize() const { MGI_CUDA(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

class Event {
 public:
  // Timing disabled by default: cheaper, and enough for ordering between streams.
  explicit Event(bool timing = false) {
    MGI_CUDA(cudaEventCreateWithFlags(&e_, timing ? cudaEventDefault : cudaEventDisableTiming));
  }
  ~Event() {
    if (e_) (void)cudaEventDestroy(e_);
  }
  Event(Event&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  Event& operator=(Event&& o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  cudaEvent_t get() const { return e_; }
  void record(cudaStream_t s) const { MGI_CUDA(cudaEventRecord(e_, s)); }
  void synchronize() const { MGI_CUDA(cudaEventSynchronize(e_)); }
  // Milliseconds from `start` to this event (both created with timing = true).
  float elapsed_ms_since(const Event& start) const {
    float ms = 0.0f;
    MGI_CUDA(cudaEventElapsedTime(&ms, start.e_, e_));
    return ms;
  }

 private:
  cudaEvent_t e_ = nullptr;
};

// A CUDA graph (the template), e.g. from stream capture; owns the cudaGraph_t it is given.
class CudaGraph {
 public:
  CudaGraph() = default;
  explicit CudaGraph(cudaGraph_t g) : g_(g) {}
  ~CudaGraph() {
    if (g_) (void)cudaGraphDestroy(g_);
  }
  CudaGraph(CudaGraph&& o) noexcept : g_(std::exchange(o.g_, nullptr)) {}
  CudaGraph& operator=(CudaGraph&& o) noexcept {
    std::swap(g_, o.g_);
    return *this;
  }
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  cudaGraph_t get() const { return g_; }

 private:
  cudaGraph_t g_ = nullptr;
};

// An instantiated graph, launched as one unit on a stream. Every device
// address its nodes use is fixed at capture: those buffers must outlive it.
class CudaGraphExec {
 public:
  CudaGraphExec() = default;
  explicit CudaGraphExec(const CudaGraph& g) { MGI_CUDA(cudaGraphInstantiate(&e_, g.get(), 0)); }
  ~CudaGraphExec() { reset(); }
  CudaGraphExec(CudaGraphExec&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
  CudaGraphExec& operator=(CudaGraphExec&& o) noexcept {
    std::swap(e_, o.e_);
    return *this;
  }
  CudaGraphExec(const CudaGraphExec&) = delete;
  CudaGraphExec& operator=(const CudaGraphExec&) = delete;

  cudaGraphExec_t get() const { return e_; }
  explicit operator bool() const { return e_ != nullptr; }
  // Makes the device copy now, so the first launch is not slower than the others.
  void upload(cudaStream_t s) const { MGI_CUDA(cudaGraphUpload(e_, s)); }
  // Runs after the stream's earlier work and before its later work, like one kernel.
  void launch(cudaStream_t s) const { MGI_CUDA(cudaGraphLaunch(e_, s)); }
  void reset() noexcept {
    if (e_) (void)cudaGraphExecDestroy(e_);
    e_ = nullptr;
  }

 private:
  cudaGraphExec_t e_ = nullptr;
};

class CublasHandle {
 public:
  CublasHandle() { MGI_CUBLAS(cublasCreate(&h_)); }
  ~CublasHandle() {
    if (h_) (void)cublasDestroy(h_);
  }
  CublasHandle(CublasHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  CublasHandle& operator=(CublasHandle&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;

  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

class CublasLtHandle {
 public:
  CublasLtHandle() { MGI_CUBLAS(cublasLtCreate(&h_)); }
  ~CublasLtHandle() {
    if (h_) (void)cublasLtDestroy(h_);
  }
  CublasLtHandle(CublasLtHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  CublasLtHandle& operator=(CublasLtHandle&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  CublasLtHandle(const CublasLtHandle&) = delete;
  CublasLtHandle& operator=(const CublasLtHandle&) = delete;

  cublasLtHandle_t get() const { return h_; }

 private:
  cublasLtHandle_t h_ = nullptr;
};

}  // namespace mgi::cuda
