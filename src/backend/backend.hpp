// Backend interface: the CPU backend is the reference; the CUDA backend (kernels/)
// must match it within tolerance. A backend is prepared once per run and then
// runs many batches with buffers allocated in prepare().
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "graph.hpp"

namespace mgi {

// Host memory for batches, from Backend::host_buffer(): page-locked on CUDA (so
// copies run asynchronously at full bus speed), plain 64-byte-aligned memory on
// the CPU. Move-only; freed by the release function it was made with.
class HostBuffer {
 public:
  using Release = void (*)(void*);
  HostBuffer() = default;
  HostBuffer(void* p, size_t bytes, Release release) : p_(p), bytes_(bytes), release_(release) {}
  ~HostBuffer() { reset(); }
  HostBuffer(HostBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), bytes_(std::exchange(o.bytes_, 0)), release_(o.release_) {}
  HostBuffer& operator=(HostBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
      release_ = o.release_;
    }
    return *this;
  }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  float* f32() const { return static_cast<float*>(p_); }
  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }
  void reset() {
    if (p_ && release_) release_(p_);
    p_ = nullptr;
    bytes_ = 0;
  }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
  Release release_ = nullptr;
};

// Memory a backend's batches draw from: the GPU's for CUDA, the host's (with the
// cgroup limit when there is one) for the CPU backend.
struct MemoryInfo {
  int64_t free_bytes = 0, total_bytes = 0;
  bool device = false;  // GPU memory (true) or host memory
};

class Backend {
 public:
  virtual ~Backend() = default;
  // One line for logs: "cpu (GEMM kernel avx512, 2 threads, fp32)", "cuda:0 NVIDIA H100 (80 GiB, fp32)".
  virtual std::string describe() const = 0;
  // Converts/uploads weights and allocates work buffers for batches of up to
  // max_batch rows whose per-row input shapes are `input_rows` (one per graph input).
  virtual void prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) = 0;
  // Runs 1 <= rows <= max_batch rows. inputs[k]: rows x prod(input_rows[k]) elements of
  // graph.input_type(k), row-major. outputs[k]: receives rows x (per-row size of graph
  // output k) elements of graph.output_type(k).
  // A row's result must not depend on the other rows in the batch or on `rows`
  // (CPU backend: bitwise).
  virtual void run(int64_t rows, const std::vector<const void*>& inputs,
                   const std::vector<void*>& outputs) = 0;
  // Like run(), for inputs whose dynamic (non-batch) dims change per batch
  // (padded ragged rows): input_shapes[k] is the full shape of inputs[k], batch
  // first; every dim at most the one prepared. Outputs are packed for these
  // shapes. The default throws (a backend that cannot run changing shapes).
  virtual void run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                          const std::vector<void*>& outputs);
  // Whether run_shaped() is implemented (CPU and CUDA backends).
  virtual bool supports_shaped() const { return false; }

  // Pipelined batches. submit() queues a batch with run()'s arguments and
  // returns; the batch is complete, its outputs written, once collect() has
  // returned for it. Batches complete in submission order, at most
  // pipeline_depth() may be outstanding, and until its collect() a batch's
  // inputs must stay unchanged and its outputs untouched. A batch whose
  // collect() throws is finished (failed). The defaults run the batch inside
  // submit() (the CPU backend); CUDA overlaps copies and compute of
  // consecutive batches. run() must not be mixed with outstanding batches.
  virtual int pipeline_depth() const { return 1; }
  virtual void submit(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs);
  virtual void collect();
  // Waits for every outstanding batch and forgets it, errors included. For the
  // error and interrupt paths, before buffers the batches use are freed.
  virtual void drain() noexcept;
  // Pipelined run_shaped() batches (padded ragged rows), with submit()'s
  // contract: up to shaped_pipeline_depth() outstanding, each complete once
  // collect() has returned for it. Depth 1 (the default: CPU and CUDA) means
  // not pipelined: callers use run_shaped(), and submit_shaped() throws.
  // Pipeline stages (mpi/pipeline_backend.hpp) keep several micro-batches in flight.
  virtual int shaped_pipeline_depth() const { return 1; }
  virtual void submit_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                             const std::vector<void*>& outputs);

  // Host memory for batch inputs (see HostBuffer); throws OutOfMemory.
  virtual HostBuffer host_buffer(size_t bytes);
  // Where batches take their memory from, and how much is free now.
  virtual MemoryInfo memory_info() const;
  // After prepare(): bytes of activation and pipeline buffers a prepare() of
  // the same graph for `rows` rows would allocate, planned without allocating;
  // -1 where the backend cannot say (the caller then keeps its estimate from
  // the model's value sizes, model_io.hpp activation_size()).
  virtual int64_t planned_bytes(int64_t rows) const;

  // The benchmark's stage bounds (bench/stage_bench.cpp): each pipeline stage
  // of one batch of `rows` rows timed alone, fastest of `repeats` -- copy of
  // the inputs to where the backend computes, the graph on inputs already
  // there, copy of the outputs back. After prepare(), no batch outstanding;
  // `inputs`/`outputs` as for run() (outputs hold the last repeat's results).
  // The default times run() as compute and reports no copies (CPU backend).
  struct StageTimes {
    double h2d_s = 0, compute_s = 0, d2h_s = 0;
  };
  virtual StageTimes time_stages(int64_t rows, const std::vector<const void*>& inputs,
                                 const std::vector<void*>& outputs, int repeats);

 private:
  int64_t outstanding_ = 0;  // default submit()/collect(): batches run but not collected yet
};

// prepare() for `batch` rows. With `back_off`, OutOfMemory (or std::bad_alloc)
// halves the batch and tries again, down to 1 row; then, or without back_off,
// throws RuntimeError (exit 5) saying how much was asked. Returns the batch prepared.
// Host memory: MemAvailable and physical memory, or the memory cgroup's limit
// and what is left under it when that is lower (Slurm --mem, containers).
MemoryInfo host_memory_info();

int64_t prepare_batch(Backend& backend, const Graph& graph, const std::vector<Shape>& input_rows, int64_t batch,
                      bool back_off);

// Precision of the GEMMs (Gemm/MatMul) on the CUDA backend (runtime.precision).
// Everything else, and every accumulation, is float32. The CPU backend always
// computes in float32 and says so in describe().
enum class Precision { fp32, tf32, bf16, fp16 };
const char* precision_name(Precision p);
// "fp32" | "tf32" | "bf16" | "fp16"; anything else throws ConfigError.
Precision parse_precision(const std::string& name);

// The CUDA backend's documented agreement with the CPU backend, per model
// output: max|cuda - cpu| / max|cpu| <= this (NaN never passes), for networks
// whose activations stay O(1) (docs/PERFORMANCE.md, "Precision"):
// fp32 1e-5, tf32 5e-3, fp16 2e-3, bf16 1.5e-2.
double precision_tolerance(Precision p);

struct BackendOptions {
  Precision precision = Precision::fp32;
  bool fuse = true;  // fuse_graph() in prepare() (off: run the graph node by node, for tests)
  // CUDA: capture the graph's kernels for a full batch once per lane as a CUDA
  // graph and replay it (runtime.cuda_graphs); other batch sizes run node by node.
  bool cuda_graphs = false;
  // runtime.memory_limit: bytes the backend may hold (0 = no limit beyond free
  // memory). The CPU backend honours it (so the CPU can stand in for a small
  // GPU): memory_info() reports free = min(host free, limit - what it holds),
  // and prepare() throws OutOfMemory when weights + activation buffers exceed it.
  int64_t memory_limit = 0;
};

std::unique_ptr<Backend> make_cpu_backend(int threads);
std::unique_ptr<Backend> make_cpu_backend(int threads, const BackendOptions& options);

// CUDA side, implemented in kernels/ when built with CUDA, else by stubs.
bool cuda_compiled();
// Visible CUDA devices; 0 without a driver or device (never throws).
int cuda_device_count();
// "NVIDIA H100 80GB HBM3" etc.; empty when unavailable.
std::string cuda_device_name(int device);
std::unique_ptr<Backend> make_cuda_backend(int device);
std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions& options);

}  // namespace mgi
