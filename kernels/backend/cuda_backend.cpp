// The CUDA backend's construction and prepare(): device, streams and cuBLAS
// handle; graph checks, constants upload, activation plan, warm-up and (with
// cuda_graphs) the capture of the lanes' graphs; host memory; the factory.
#include "cuda_backend.hpp"

#include <cstdio>
#include <memory>
#include <numeric>

#include "error.hpp"
#include "graph_fuse.hpp"
#include "storage_math.hpp"

namespace mgi::cuda {

namespace {

// cuBLAS's recommendation for Hopper (4 MiB suffices before it); also ample for older GPUs.
constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;

}  // namespace

CudaBackend::DeviceSelect::DeviceSelect(int device) { MGI_CUDA(cudaSetDevice(device)); }

CudaBackend::CudaBackend(int device, const BackendOptions& options)
    : device_(device),
      select_(device),
      cublas_workspace_(kCublasWorkspaceBytes),
      options_(options),
      gemm_(options.precision) {
  cudaDeviceProp prop{};
  MGI_CUDA(cudaGetDeviceProperties(&prop, device_));
  description_ = "cuda:" + std::to_string(device_) + " " + prop.name + " (" + gib(prop.totalGlobalMem) + ", " +
                 precision_name(options_.precision) + ")";
  MGI_CUBLAS(cublasSetStream(cublas_.get(), stream_.get()));
  // After cublasSetStream, which resets the handle to cuBLAS's own workspace
  // pool. Set with or without graphs: a workspace size can change cuBLAS's
  // choice of algorithm, and graph and node-by-node runs must round alike.
  MGI_CUBLAS(cublasSetWorkspace(cublas_.get(), cublas_workspace_.get(), cublas_workspace_.bytes()));
  // CUBLAS_COMPUTE_32F with the default math mode never uses TF32 tensor cores,
  // so GEMMs round like fp32 BLAS on the CPU.
  MGI_CUBLAS(cublasSetMathMode(cublas_.get(), CUBLAS_DEFAULT_MATH));
}

CudaBackend::~CudaBackend() {
  // Members free on this device; a failure here is not actionable.
  (void)cudaSetDevice(device_);
  sync_all();
}

void CudaBackend::sync_all() noexcept {
  (void)cudaStreamSynchronize(h2d_.get());
  (void)cudaStreamSynchronize(stream_.get());
  (void)cudaStreamSynchronize(d2h_.get());
  (void)cudaGetLastError();
}

// "... (80.0 GiB, fp32) with CUDA graphs; cuBLASLt 3 GEMMs, 1 fell back": the
// precision stays last in the parentheses. The GEMM counts are the warm-up
// batch's (after prepare(), when it had a GEMM for cuBLASLt): the same on
// every rank running the model, unlike counts that grow with the batches.
std::string CudaBackend::describe() const {
  std::string d = description_;
  if (options_.cuda_graphs)
    d += graphs_off_.empty() ? " with CUDA graphs"
         : host_nodes_ > 0  ? " without CUDA graphs (host steps)"
                            : " without CUDA graphs (capture failed)";
  if (host_nodes_ > 0)
    d += "; " + std::to_string(host_nodes_) + " node(s) on the host, no CUDA kernel for " + host_ops_;
  if (prepared_ && warm_lt_ + warm_fallback_ > 0)
    d += "; cuBLASLt " + std::to_string(warm_lt_) + " GEMMs, " + std::to_string(warm_fallback_) + " fell back";
  return d;
}

void CudaBackend::prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) {
  prepared_ = false;
  MGI_CUDA(cudaSetDevice(device_));
  // Free what an earlier prepare() held first: a retry with a smaller batch
  // after an out-of-memory must not also hold the failed size's buffers.
  drain();
  // The graphs go first: they hold the addresses of everything freed below.
  graphs_active_ = false;
  graphs_off_.clear();
  lanes_.clear();
  plans_.clear();
  full_plan_.reset();
  plan_ = nullptr;
  arena_.reset();
  constants_.reset();
  if (max_batch < 1) throw RuntimeError("CUDA backend: max_batch must be >= 1, got " + std::to_string(max_batch));
  if (input_rows.size() != graph.inputs.size())
    throw ModelError("model " + graph.source + ": expects " + std::to_string(graph.inputs.size()) +
                     " input(s), got " + std::to_string(input_rows.size()));
  input_rows_ = input_rows;
  // Same rule as the CPU backend: a model whose inputs fix the batch runs
  // batches of exactly that size (the caller pads a short one).
  const int64_t fixed = model_fixed_batch(graph);
  if (fixed > 0 && max_batch != fixed)
    throw ModelError("model " + graph.source + ": its inputs fix the batch at " + std::to_string(fixed) +
                     " rows; prepared for " + std::to_string(max_batch));
  auto shapes_at = [&](int64_t rows) { return graph.plan(input_shapes(rows)).shapes; };  // validates the graph
  const std::vector<Shape> max_shapes = shapes_at(max_batch);
  // Same rule as the CPU backend: every output is [rows, ...], or rows could not be split.
  const int64_t r1 = fixed > 0 ? fixed : 1, r2 = fixed > 0 ? fixed : 2;
  const std::vector<Shape> s1 = fixed > 0 ? max_shapes : shapes_at(1), s2 = fixed > 0 ? max_shapes : shapes_at(2);
  for (size_t k = 0; k < graph.outputs.size(); ++k) {
    const size_t v = static_cast<size_t>(graph.outputs[k]);
    const Shape &a = s1[v], &b = s2[v], &m = max_shapes[v];
    if (a.empty() || b.empty() || m.empty() || a[0] != r1 || b[0] != r2 || m[0] != max_batch ||
        row_shape(a) != row_shape(b))
      throw ModelError("model " + graph.source + ": output '" + graph.output_name(k) + "' has shape " +
                       shape_str(b) + " for a batch of " + std::to_string(r2) +
                       " rows; the batch must be its first dimension" +
                       (fixed > 0 ? "" : " (was the model exported with a fixed batch size?)"));
  }

  // Fusion keeps value ids, so max_shapes (from the unfused graph) still index it.
  graph_ = options_.fuse ? fuse_graph(graph, input_rows) : graph;
  max_batch_ = max_batch;
  const size_t nv = graph_.values.size();
  for (const Node& n : graph_.nodes)
    if (n.outputs.empty() || n.outputs[0] < 0)
      throw ModelError("model " + graph_.source + ": node '" + n.name + "' has no output");
  find_kernels();

  owner_.resize(nv);
  std::iota(owner_.begin(), owner_.end(), 0);
  std::vector<bool> used(nv, false);  // read by a node or returned
  for (const Node& n : graph_.nodes) {
    for (int v : n.inputs)
      if (v >= 0) used[static_cast<size_t>(v)] = true;
  }
  for (int v : graph_.outputs) used[static_cast<size_t>(v)] = true;
  for (const Node& n : graph_.nodes) {
    // Only the first output is computed (LayerNormalization's Mean/InvStdDev, Dropout's mask are not).
    for (size_t k = 1; k < n.outputs.size(); ++k)
      if (n.outputs[k] >= 0 && used[static_cast<size_t>(n.outputs[k])] &&
          !graph_.values[static_cast<size_t>(n.outputs[k])].host)
        throw ModelError("model " + graph_.source + ": node '" + n.name + "' (" + n.op_type + "): output " +
                         std::to_string(k) + " is used but not supported by the CUDA backend");
    if (n.def->alias && !graph_.values[static_cast<size_t>(n.outputs[0])].host)
      owner_[static_cast<size_t>(n.outputs[0])] = owner_[static_cast<size_t>(n.inputs[0])];
  }

  // What the device reads: the inputs kernels take as data (not the host-only
  // ones: shapes, axes), and the graph outputs; through aliases, their owners.
  std::vector<bool> on_device(nv, false), read_on_host(nv, false);
  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni) {
    const Node& n = graph_.nodes[ni];
    const CudaKernelDef* k = kernel_[ni];
    const bool alias = !k && n.def->alias && !graph_.values[static_cast<size_t>(n.outputs[0])].host;
    for (size_t q = 0; q < n.inputs.size(); ++q) {
      const int v = n.inputs[q];
      if (v < 0 || (alias && q == 0)) continue;  // an alias's data input: read by whoever reads its output
      if (k && !(k->host_inputs >> q & 1u))
        on_device[static_cast<size_t>(owner_[static_cast<size_t>(v)])] = true;
      else
        read_on_host[static_cast<size_t>(v)] = true;  // by a host value's CPU kernel, an inference or a kernel's host side
    }
  }
  for (int v : graph_.outputs) on_device[static_cast<size_t>(owner_[static_cast<size_t>(v)])] = true;
  host_upload_.clear();
  for (size_t v = 0; v < nv; ++v)
    if (on_device[v] && graph_.values[v].host) host_upload_.push_back(static_cast<int>(v));

  slot_.assign(nv, Slot{});
  upload_constants(on_device, read_on_host);
  plan_activations(max_shapes);
  gemm_.prepare(graph_, max_shapes, [this](int v) { return static_cast<float*>(data(v)); }, stream_.get());  // bf16/fp16 weights
  stream_.synchronize();

  warm_up();
  full_plan_ = plans_.at(input_shapes(max_batch_));  // kept apart from the cache: the CUDA graphs use its addresses
  warm_lt_ = gemm_.lt_calls();  // gemm_.prepare() reset both
  warm_fallback_ = gemm_.fallback_calls();
  capture_graphs();  // after the warm-up: no lazy set-up may happen inside a capture
  prepared_ = true;
}

// One full batch of zeros through every node: module loading, cuBLAS(Lt)
// heuristics and lazily made workspaces happen here, before any batch is
// timed, and an out-of-memory surfaces in prepare() where the batch can shrink.
// Every lane's inputs are zeroed, so a trial replay of a lane's graph reads defined data.
void CudaBackend::warm_up() {
  const BatchPlan& plan = plan_for(max_batch_);
  for (Lane& lane : lanes_)
    if (lane.in.bytes()) MGI_CUDA(cudaMemsetAsync(lane.in.get(), 0, lane.in.bytes(), stream_.get()));
  enqueue_nodes(0, plan);
  stream_.synchronize();
  check_errors(lanes_[0]);
}

// Constants the device reads are uploaded once. Host copies stay where the
// host may read them (shape inference and host values per batch, kernels'
// host-side parameters) and for small tensors; large float weights only the
// device reads are dropped.
void CudaBackend::upload_constants(const std::vector<bool>& needed, const std::vector<bool>& read_on_host) {
  constexpr size_t kKeepHostBytes = size_t(64) << 10;
  size_t total = 0;
  for (size_t v = 0; v < graph_.values.size(); ++v) {
    const Value& val = graph_.values[v];
    if (!val.is_constant || !needed[v]) continue;
    const size_t bytes = typed_bytes(val.data.shape, val.data.dtype);
    if (val.data.bytes() != bytes || val.data.dtype != val.dtype)
      throw ModelError("model " + graph_.source + ": constant '" + val.name + "' has shape " +
                       shape_str(val.data.shape) + " but " + std::to_string(val.data.bytes()) + " bytes of " +
                       dtype_name(val.data.dtype));
    slot_[v] = Slot{Home::constant, total, bytes};
    total += align_up(bytes);
  }
  constants_ = DeviceBuffer(total);
  for (size_t v = 0; v < graph_.values.size(); ++v) {
    const Value& val = graph_.values[v];
    // On our stream: a plain cudaMemcpy runs on the legacy stream, which a
    // non-blocking stream does not wait for.
    if (slot_[v].home == Home::constant && slot_[v].bytes)
      MGI_CUDA(cudaMemcpyAsync(constants_.bytes_ptr() + slot_[v].offset, val.data.raw(), slot_[v].bytes,
                               cudaMemcpyHostToDevice, stream_.get()));
  }
  stream_.synchronize();
  for (size_t v = 0; v < graph_.values.size(); ++v) {
    Value& val = graph_.values[v];
    if (val.is_constant && !read_on_host[v] && is_float(val.dtype) && val.data.bytes() > kKeepHostBytes)
      val.data.release();
  }
}

HostBuffer CudaBackend::host_buffer(size_t bytes) {
  if (bytes == 0) return {};
  MGI_CUDA(cudaSetDevice(device_));
  void* p = nullptr;
  MGI_CUDA(cudaMallocHost(&p, bytes));
  return HostBuffer(p, bytes, [](void* q) { (void)cudaFreeHost(q); });
}

MemoryInfo CudaBackend::memory_info() const {
  MGI_CUDA(cudaSetDevice(device_));
  size_t free = 0, total = 0;
  MGI_CUDA(cudaMemGetInfo(&free, &total));
  return MemoryInfo{static_cast<int64_t>(free), static_cast<int64_t>(total), true};
}


std::unique_ptr<Backend> make_backend(int device, const BackendOptions& options) {
  const int count = device_count();
  if (count == 0)
    throw RuntimeError("runtime.device: cuda requested but no CUDA device is visible (no driver, no GPU, "
                       "or CUDA_VISIBLE_DEVICES hides them)");
  if (device < 0 || device >= count)
    throw RuntimeError("runtime.device: CUDA device " + std::to_string(device) + " requested but " +
                       std::to_string(count) + " visible");
  return std::make_unique<CudaBackend>(device, options);
}

}  // namespace mgi::cuda
