// The CUDA backend: one device; cuBLAS and every kernel on one non-blocking
// compute stream. prepare() finds each node's kernel in the CUDA kernel
// registry (cuda_kernels.hpp; alias ops and nodes computing host values need
// none), uploads the constants the kernels read once, places every
// intermediate value of a max_batch-row batch in one device arena (typed:
// numel x dtype_size bytes; buffers whose lifetimes do not overlap share
// bytes; alias ops share their input's) and runs one warm-up batch.
//
// Host values (Value::host: Shape -> Gather -> Concat -> Reshape ...) are
// never computed here: each batch's input shapes get a BatchPlan from
// Graph::plan() (cached per shape set), holding every value's shape and the
// host values; the few a kernel reads as data (e.g. Gather indices computed
// from shapes) are uploaded once per plan. A kernel that finds bad data (a
// Gather index out of range) sets the lane's error flag; it is read back with
// the outputs and collect() throws a DataError naming the node.
//
// Pipeline: kLanes lanes, each with device buffers for one batch's graph
// inputs and outputs, page-locked staging and three events. submit() queues
//   H2D (h2d_ stream) -> nodes + copy of the outputs out of the arena (compute
//   stream) -> D2H (d2h_ stream)
// chained by events, so batch k+1's upload and batch k-1's download overlap
// batch k's compute; collect() waits for the oldest batch's download. The
// arena is shared: batches compute one after another on the compute stream.
//
// run_shaped() (padded ragged batches, sequence length changing per batch):
// one batch at a time through the same three stages on the next lane, with
// the BatchPlan of its input shapes (the same cache); the arena and the lanes
// were sized for the prepared (largest) shapes, and a plan whose values would
// not fit is refused. Never a CUDA graph.
//
// CUDA graphs (BackendOptions::cuda_graphs): after the warm-up, prepare()
// captures each lane's compute-stream work for a full batch (max_batch rows)
// into a CUDA graph; a full batch then launches that graph in place of its
// nodes, any other batch runs node by node. Every address the graphs use
// (lane buffers, arena, constants, converted weights and scratch, cuBLAS and
// cuBLASLt workspaces) is allocated before the capture and kept until the
// next prepare() or the destructor, which drop the graphs first. A capture
// that fails leaves the backend running node by node (one warning; describe()
// says so).
//
// Files: cuda_backend.cpp (construction, prepare, warm-up), value_storage.cpp
// (arena and lane layout, value addresses), pipeline.cpp (submit/collect and
// the three stages of a batch), cuda_graphs.cpp (capture), stage_times.cpp
// (time_stages), node_launch.cpp (kernel lookup, one node -> its kernel).
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <map>
#include <memory>

#include "backend.hpp"
#include "cuda_handles.hpp"
#include "cuda_kernels.hpp"
#include "device_buffer.hpp"
#include "gemm_engine.hpp"
#include "memory_plan.hpp"

namespace mgi::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device, const BackendOptions& options = {});
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string describe() const override;
  void prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) override;
  void run(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) override;
  int pipeline_depth() const override { return kLanes; }
  void submit(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) override;
  // Padded ragged batches: synchronous (upload, nodes, download on lane 0),
  // with no batch outstanding; the plan for these shapes comes from the same
  // cache as run()'s. Never a CUDA graph (those hold the full batch's shapes).
  void run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                  const std::vector<void*>& outputs) override;
  bool supports_shaped() const override { return true; }
  void collect() override;
  void drain() noexcept override;
  HostBuffer host_buffer(size_t bytes) override;  // page-locked
  MemoryInfo memory_info() const override;        // the device's (cudaMemGetInfo)
  // After prepare(): arena + lane bytes a prepare() of this graph for `rows` rows would allocate.
  int64_t planned_bytes(int64_t rows) const override;
  // Each stage of one batch alone on lane 0, timed with CUDA events: H2D from
  // page-locked memory (the caller's, else the lane's stage, filled before the
  // clock starts), compute on device-resident inputs (the CUDA graph for a full
  // batch when graphs are on), D2H into page-locked memory.
  StageTimes time_stages(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs,
                         int repeats) override;

  static constexpr int kLanes = 3;  // batches in flight: upload, compute, download

  // Bytes of device memory held for constants and for activations (after prepare()).
  size_t constant_bytes() const { return constants_.bytes(); }
  size_t arena_bytes() const { return arena_.bytes(); }
  size_t lane_bytes() const;  // device bytes of all lanes' input and output buffers
  // After prepare(): whether full batches replay captured CUDA graphs, and how
  // many batches did so far (for tests and the benchmark).
  bool graphs_active() const { return graphs_active_; }
  int64_t graph_launches() const { return graph_launches_; }
  // Since prepare() (warm-up and capture included, graph replays not): GEMMs
  // that ran through cublasLtMatmul with their fused epilogue, and those
  // cuBLASLt rejected, which ran on cublasGemmEx (gemm_engine.hpp). For tests:
  // a fused path that silently falls back would still match the CPU backend.
  int64_t lt_calls() const { return gemm_.lt_calls(); }
  int64_t fallback_calls() const { return gemm_.fallback_calls(); }

 private:
  // Selects the device before any other member touches CUDA.
  struct DeviceSelect {
    explicit DeviceSelect(int device);
  };
  // input: in the current lane; host: a host value uploaded with the current BatchPlan
  enum class Home : uint8_t { none, constant, arena, input, host };
  struct Slot {  // where a value's storage lives (indexed by the owning value)
    Home home = Home::none;
    size_t offset = 0;
    size_t bytes = 0;
  };

  struct Lane {  // one batch on its way through the pipeline
    DeviceBuffer in, out;              // graph inputs / outputs, packed at in_at_ / out_at_
    PinnedBuffer in_stage, out_stage;  // for callers' pageable memory (made on first need)
    Event loaded, computed, unloaded;  // H2D done; nodes and output copy done; D2H done
    std::vector<void*> dst;            // per output: caller memory filled from out_stage at collect()
    std::vector<size_t> dst_bytes;
    DeviceBuffer flag;       // int: the batch's data-error flag (cuda_kernels.hpp, CudaOpContext::error_flag)
    PinnedBuffer flag_host;  // its copy, made after the nodes
    CudaGraphExec graph;  // this lane's full batch (cuda_graphs), reading `in`, writing `out`
  };
  struct ArenaLayout {  // intermediate values in the arena, for one batch size
    std::vector<int> value_of;  // per arena buffer: the owning value
    std::vector<size_t> bytes;
    ArenaPlan plan;
  };

  // One set of input shapes: every value's shape, the host values, and device
  // copies of the host values kernels read (at: per owner value, byte offset in device).
  struct BatchPlan {
    std::vector<Shape> shapes;
    std::vector<Tensor> host;
    DeviceBuffer device;
    std::vector<size_t> at;
  };

  void* data(int value) const;
  size_t value_bytes(int value, const Shape& shape) const;
  ArenaLayout layout_for(const std::vector<Shape>& shapes) const;
  void make_lanes(const std::vector<Shape>& max_shapes);
  void warm_up();
  void sync_all() noexcept;
  std::vector<Shape> input_shapes(int64_t rows) const;
  const BatchPlan& plan_for(int64_t rows);
  const BatchPlan& plan_for(const std::vector<Shape>& input_shapes);
  // Queues one batch on the next lane (submit(), run_shaped()); nodes only unless may_graph.
  void enqueue_batch(int64_t rows, const BatchPlan& plan, const std::vector<const void*>& inputs,
                     const std::vector<void*>& outputs, bool may_graph);
  void find_kernels();
  void upload_constants(const std::vector<bool>& needed, const std::vector<bool>& read_on_host);
  void plan_activations(const std::vector<Shape>& max_shapes);
  const Tensor* host_tensor(int value, const BatchPlan& plan) const;
  void execute(size_t node, const BatchPlan& plan, int* error_flag);
  void check_errors(Lane& lane) const;  // throws DataError when a kernel of the lane's batch flagged its data

  // The stages of one batch on lane `li` (pipeline.cpp). Callers' pageable
  // memory goes through the lane's page-locked stage: stage_inputs() copies
  // into it and returns the page-locked source of each input.
  void check_batch(int64_t rows, size_t inputs, size_t outputs, const char* what) const;
  std::vector<const void*> stage_inputs(Lane& lane, const std::vector<const void*>& inputs,
                                        const std::vector<Shape>& shapes);
  void enqueue_upload(Lane& lane, const std::vector<const void*>& src, const std::vector<Shape>& shapes);
  void enqueue_compute(int li, int64_t rows, const BatchPlan& plan);  // graph or nodes
  void enqueue_nodes(int li, const BatchPlan& plan);  // nodes + outputs into the lane + error flag
  void enqueue_download(Lane& lane, const std::vector<void*>& outputs, const std::vector<Shape>& shapes);
  void finish_download(const Lane& lane) const;  // stage -> callers' pageable outputs

  // CUDA graphs (cuda_graphs.cpp).
  void capture_graphs();
  CudaGraphExec capture_lane(int li, const BatchPlan& plan);

  int device_;
  DeviceSelect select_;
  std::string description_;
  Stream stream_;  // compute
  Stream h2d_, d2h_;
  // cuBLAS's workspace, ours rather than its internal pool so that a captured
  // GEMM has a fixed address and graph and node-by-node runs pick the same
  // algorithms. Declared before the handle: destroyed after it.
  DeviceBuffer cublas_workspace_;
  CublasHandle cublas_;
  // Precision, fusion and GEMM routing (graph_fuse.hpp, gemm_engine.hpp).
  BackendOptions options_;
  GemmEngine gemm_;

  bool prepared_ = false;
  Graph graph_;  // ids, nodes and constant shapes (constant data dropped once uploaded)
  std::vector<Shape> input_rows_;
  int64_t max_batch_ = 0;
  std::vector<int> owner_;  // value id -> value id whose storage it uses (aliases)
  std::vector<Slot> slot_;  // by owner
  std::vector<const CudaKernelDef*> kernel_;  // per node; nullptr: runs nothing (alias, host value)
  std::vector<int> host_upload_;  // host values (owners) a kernel reads on the device or the graph returns
  DeviceBuffer constants_;
  DeviceBuffer arena_;
  std::vector<size_t> in_at_, out_at_;  // byte offset of each graph input / output in a lane's buffers
  size_t in_bytes_ = 0, out_bytes_ = 0;  // a lane's input / output buffer size (max batch)
  std::vector<Lane> lanes_;
  std::deque<int> busy_;  // lanes with a batch submitted and not collected, oldest first
  int next_lane_ = 0;
  int lane_ = 0;          // the lane data() resolves graph inputs to (set while launching a batch)
  const BatchPlan* plan_ = nullptr;  // the plan data() resolves host values to (likewise)
  // Plans by input shapes (a batch allocates nothing once its shapes were
  // seen); bounded: full, the streams are drained and the cache cleared. The
  // full batch's plan stays alive apart, as the CUDA graphs hold its addresses.
  std::map<std::vector<Shape>, std::shared_ptr<BatchPlan>> plans_;
  std::shared_ptr<BatchPlan> full_plan_;
  static constexpr size_t kPlanCacheEntries = 64;
  bool graphs_active_ = false;
  // Nodes of ops without a CUDA kernel, run on the host (host_fallback.cpp), and their op names.
  int host_nodes_ = 0;
  std::string host_ops_;
  std::string graphs_off_;  // why cuda_graphs was asked for and is not in use (capture failed)
  bool graphs_warned_ = false;  // the capture-failed warning is printed once per backend
  int64_t graph_launches_ = 0;
  int64_t warm_lt_ = 0, warm_fallback_ = 0;  // the warm-up batch's lt_calls() and fallback_calls(), for describe()
};

// The backend's entry points, behind the module's table (module_entry.cpp;
// backend.hpp's make_cuda_backend, cuda_device_count... reach them through
// src/backend/cuda_module.cpp). Named apart from those so a module's own calls
// never bind to the executable's wrappers.
// A new backend on `device`; RuntimeError when there is no such device.
std::unique_ptr<Backend> make_backend(int device, const BackendOptions& options);
int device_count();                // never throws; 0 without a driver or device
std::string device_name(int device);  // "" when there is no such device
std::string runtime_info();        // "CUDA runtime 13.0, driver 12.8" / "..., no driver"
// Every (domain, name) the backend runs: a kernel, or an alias op (no kernel needed).
std::vector<std::pair<std::string, std::string>> op_keys();

}  // namespace mgi::cuda
