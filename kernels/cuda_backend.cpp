#include "cuda_backend.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>

#include "error.hpp"
#include "graph_fuse.hpp"
#include "memory_plan.hpp"

namespace mgi::cuda {

namespace {

constexpr size_t kAlign = 256;  // cudaMalloc's own alignment; keeps every buffer vector-aligned

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

size_t float_bytes(const Shape& s) { return static_cast<size_t>(shape_numel(s)) * sizeof(float); }

bool is_alias(OpKind op) { return op == OpKind::Flatten || op == OpKind::Reshape || op == OpKind::Identity; }

// Caller memory that is already page-locked is copied directly, without staging.
bool is_pinned(const void* p) {
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

std::string gib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", double(bytes) / double(1ull << 30));
  return buf;
}

}  // namespace

CudaBackend::DeviceSelect::DeviceSelect(int device) { MGI_CUDA(cudaSetDevice(device)); }

CudaBackend::CudaBackend(int device, const BackendOptions& options)
    : device_(device), select_(device), options_(options), gemm_(options.precision) {
  cudaDeviceProp prop{};
  MGI_CUDA(cudaGetDeviceProperties(&prop, device_));
  description_ = "cuda:" + std::to_string(device_) + " " + prop.name + " (" + gib(prop.totalGlobalMem) + ", " +
                 precision_name(options_.precision) + ")";
  MGI_CUBLAS(cublasSetStream(cublas_.get(), stream_.get()));
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

std::string CudaBackend::describe() const { return description_; }

void CudaBackend::prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) {
  prepared_ = false;
  MGI_CUDA(cudaSetDevice(device_));
  // Free what an earlier prepare() held first: a retry with a smaller batch
  // after an out-of-memory must not also hold the failed size's buffers.
  drain();
  lanes_.clear();
  arena_.reset();
  constants_.reset();
  if (max_batch < 1) throw RuntimeError("CUDA backend: max_batch must be >= 1, got " + std::to_string(max_batch));
  if (input_rows.size() != graph.inputs.size())
    throw ModelError("model " + graph.source + ": expects " + std::to_string(graph.inputs.size()) +
                     " input(s), got " + std::to_string(input_rows.size()));
  for (const Node& n : graph.nodes)
    if (n.op == OpKind::TestWork)  // a sleep standing in for device work: nothing to run here
      throw ModelError("model " + graph.source + ": node '" + n.name +
                       "': op mgi.test.Work is CPU-only (a test op for benchmarks; use runtime.device: cpu)");
  auto shapes_at = [&](int64_t rows) {
    std::vector<Shape> in;
    for (const Shape& r : input_rows) {
      Shape s{rows};
      s.insert(s.end(), r.begin(), r.end());
      in.push_back(s);
    }
    return graph.infer_shapes(in);  // validates the graph
  };
  const std::vector<Shape> max_shapes = shapes_at(max_batch);
  // Same rule as the CPU backend: every output is [rows, ...], or rows could not be split.
  const std::vector<Shape> s1 = shapes_at(1), s2 = shapes_at(2);
  for (size_t k = 0; k < graph.outputs.size(); ++k) {
    const size_t v = static_cast<size_t>(graph.outputs[k]);
    const Shape &a = s1[v], &b = s2[v], &m = max_shapes[v];
    if (a.empty() || b.empty() || m.empty() || a[0] != 1 || b[0] != 2 || m[0] != max_batch ||
        row_shape(a) != row_shape(b))
      throw ModelError("model " + graph.source + ": output '" + graph.output_name(k) + "' has shape " +
                       shape_str(b) + " for a batch of 2 rows; the batch must be its first dimension (was the "
                       "model exported with a fixed batch size?)");
  }

  // Fusion keeps value ids, so max_shapes (from the unfused graph) still index it.
  graph_ = options_.fuse ? fuse_graph(graph, input_rows) : graph;
  input_rows_ = input_rows;
  max_batch_ = max_batch;
  const size_t nv = graph_.values.size();

  owner_.resize(nv);
  std::iota(owner_.begin(), owner_.end(), 0);
  std::vector<bool> used(nv, false);  // read by a node or returned
  for (const Node& n : graph_.nodes) {
    for (int v : n.inputs)
      if (v >= 0) used[static_cast<size_t>(v)] = true;
  }
  for (int v : graph_.outputs) used[static_cast<size_t>(v)] = true;
  for (const Node& n : graph_.nodes) {
    if (n.outputs.empty() || n.outputs[0] < 0)
      throw ModelError("model " + graph_.source + ": node '" + n.name + "' has no output");
    // Only the first output is computed (LayerNormalization's Mean/InvStdDev, Dropout's mask are not).
    for (size_t k = 1; k < n.outputs.size(); ++k)
      if (n.outputs[k] >= 0 && used[static_cast<size_t>(n.outputs[k])])
        throw ModelError("model " + graph_.source + ": node '" + n.name + "' (" + n.op_type + "): output " +
                         std::to_string(k) + " is used but not supported by the CUDA backend");
    if (is_alias(n.op)) owner_[static_cast<size_t>(n.outputs[0])] = owner_[static_cast<size_t>(n.inputs[0])];
  }

  slot_.assign(nv, Slot{});
  std::vector<bool> needed(nv, false);
  for (size_t v = 0; v < nv; ++v)
    if (used[v]) needed[static_cast<size_t>(owner_[v])] = true;
  upload_constants(needed);
  plan_activations(max_shapes);
  gemm_.prepare(graph_, max_shapes, [this](int v) { return data(v); }, stream_.get());  // bf16/fp16 weights
  stream_.synchronize();

  shapes_rows_ = -1;
  warm_up();
  prepared_ = true;
}

// One full batch of zeros through every node: module loading, cuBLAS(Lt)
// heuristics and lazily made workspaces happen here, before any batch is
// timed, and an out-of-memory surfaces in prepare() where the batch can shrink.
void CudaBackend::warm_up() {
  const std::vector<Shape>& shapes = shapes_for(max_batch_);
  Lane& lane = lanes_[0];
  if (lane.in.bytes()) MGI_CUDA(cudaMemsetAsync(lane.in.get(), 0, lane.in.bytes(), stream_.get()));
  lane_ = 0;
  for (const Node& n : graph_.nodes) execute(n, shapes);
  stream_.synchronize();
}

void CudaBackend::upload_constants(const std::vector<bool>& needed) {
  size_t total = 0;
  for (size_t v = 0; v < graph_.values.size(); ++v) {
    Value& val = graph_.values[v];
    if (!val.is_constant || !needed[v]) continue;
    const int64_t n = shape_numel(val.data.shape);
    const size_t have = val.data.dtype == DType::f32 ? val.data.f.size() : val.data.i.size();
    if (static_cast<int64_t>(have) != n)
      throw ModelError("model " + graph_.source + ": constant '" + val.name + "' has shape " +
                       shape_str(val.data.shape) + " but " + std::to_string(have) + " values");
    slot_[v] = Slot{Home::constant, total, static_cast<size_t>(n) * sizeof(float)};
    total += align_up(slot_[v].bytes);
  }
  constants_ = DeviceBuffer(total);
  for (size_t v = 0; v < graph_.values.size(); ++v) {
    Value& val = graph_.values[v];
    if (slot_[v].home != Home::constant) continue;
    if (val.data.dtype == DType::i64) {  // backends compute in float32
      val.data.f.assign(val.data.i.begin(), val.data.i.end());
      val.data.dtype = DType::f32;
    }
    // On our stream: a plain cudaMemcpy runs on the legacy stream, which a
    // non-blocking stream does not wait for.
    if (slot_[v].bytes)
      MGI_CUDA(cudaMemcpyAsync(constants_.bytes_ptr() + slot_[v].offset, val.data.f.data(), slot_[v].bytes,
                               cudaMemcpyHostToDevice, stream_.get()));
  }
  stream_.synchronize();
  // Shape inference needs only the shapes; the host copies of the weights can go.
  for (Value& val : graph_.values) {
    std::vector<float>().swap(val.data.f);
    std::vector<int64_t>().swap(val.data.i);
  }
}

// Arena placement of every value that is neither a constant nor a graph input
// (those live in the lanes). Graph outputs stay to the end: they are copied
// into the lane after the last node.
CudaBackend::ArenaLayout CudaBackend::layout_for(const std::vector<Shape>& shapes) const {
  const size_t nv = graph_.values.size();
  std::vector<bool> is_input(nv, false);
  for (int v : graph_.inputs) is_input[static_cast<size_t>(v)] = true;
  std::vector<int> buffer_of(nv, -1);
  ArenaLayout out;
  std::vector<int>& value_of = out.value_of;
  std::vector<size_t>& bytes = out.bytes;
  std::vector<bool> pinned;
  auto buffer = [&](int v) {
    const int o = owner_[static_cast<size_t>(v)];
    if (graph_.values[static_cast<size_t>(o)].is_constant || is_input[static_cast<size_t>(o)]) return -1;
    int& b = buffer_of[static_cast<size_t>(o)];
    if (b < 0) {
      b = static_cast<int>(value_of.size());
      value_of.push_back(o);
      bytes.push_back(float_bytes(shapes[static_cast<size_t>(o)]));
      pinned.push_back(false);
    }
    return b;
  };
  std::vector<PlanStep> steps;
  for (const Node& n : graph_.nodes) {
    PlanStep st;
    for (int v : n.inputs)
      if (v >= 0 && buffer(v) >= 0) st.reads.push_back(buffer(v));
    if (!is_alias(n.op)) st.writes.push_back(buffer(n.outputs[0]));
    steps.push_back(std::move(st));
  }
  for (int v : graph_.outputs) {
    const int b = buffer(v);
    if (b >= 0) pinned[static_cast<size_t>(b)] = true;
  }
  out.plan = plan_arena(bytes, steps, pinned, kAlign);
  return out;
}

void CudaBackend::plan_activations(const std::vector<Shape>& max_shapes) {
  const ArenaLayout layout = layout_for(max_shapes);
  for (size_t b = 0; b < layout.value_of.size(); ++b)
    slot_[static_cast<size_t>(layout.value_of[b])] = Slot{Home::arena, layout.plan.offset[b], layout.bytes[b]};
  try {
    arena_ = DeviceBuffer(layout.plan.bytes);
  } catch (const OutOfMemory& e) {
    throw OutOfMemory(std::string(e.what()) + " (activations for a batch of " + std::to_string(max_batch_) +
                      " rows need " + gib(layout.plan.bytes) + ")");
  }
  make_lanes(max_shapes);
}

void CudaBackend::make_lanes(const std::vector<Shape>& max_shapes) {
  in_at_.clear();
  out_at_.clear();
  in_bytes_ = out_bytes_ = 0;
  for (int v : graph_.inputs) {
    in_at_.push_back(in_bytes_);
    const size_t bytes = float_bytes(max_shapes[static_cast<size_t>(v)]);
    slot_[static_cast<size_t>(v)] = Slot{Home::input, in_bytes_, bytes};
    in_bytes_ += align_up(bytes);
  }
  for (int v : graph_.outputs) {
    out_at_.push_back(out_bytes_);
    out_bytes_ += align_up(float_bytes(max_shapes[static_cast<size_t>(v)]));
  }
  lanes_.clear();
  lanes_.resize(kLanes);
  for (Lane& lane : lanes_) {
    lane.in = DeviceBuffer(in_bytes_);
    lane.out = DeviceBuffer(out_bytes_);
  }
  busy_.clear();
  next_lane_ = 0;
}

size_t CudaBackend::lane_bytes() const { return lanes_.size() * (in_bytes_ + out_bytes_); }

int64_t CudaBackend::planned_bytes(int64_t rows) const {
  if (!prepared_ || rows < 1) return -1;
  std::vector<Shape> in;
  for (const Shape& r : input_rows_) {
    Shape s{rows};
    s.insert(s.end(), r.begin(), r.end());
    in.push_back(s);
  }
  const std::vector<Shape> shapes = graph_.infer_shapes(in);
  size_t lane = 0;
  for (int v : graph_.inputs) lane += align_up(float_bytes(shapes[static_cast<size_t>(v)]));
  for (int v : graph_.outputs) lane += align_up(float_bytes(shapes[static_cast<size_t>(v)]));
  return static_cast<int64_t>(layout_for(shapes).plan.bytes + kLanes * lane);
}

float* CudaBackend::data(int value) const {
  const size_t o = static_cast<size_t>(owner_[static_cast<size_t>(value)]);
  const Slot& s = slot_[o];
  switch (s.home) {
    case Home::constant: return reinterpret_cast<float*>(constants_.bytes_ptr() + s.offset);
    case Home::arena: return reinterpret_cast<float*>(arena_.bytes_ptr() + s.offset);
    case Home::input: return reinterpret_cast<float*>(lanes_[static_cast<size_t>(lane_)].in.bytes_ptr() + s.offset);
    case Home::none: break;
  }
  MGI_ASSERT(false, "CUDA backend: value '" + graph_.values[o].name + "' has no storage");
  return nullptr;
}

const std::vector<Shape>& CudaBackend::shapes_for(int64_t rows) {
  if (rows == shapes_rows_) return shapes_;
  std::vector<Shape> in;
  for (const Shape& r : input_rows_) {
    Shape s{rows};
    s.insert(s.end(), r.begin(), r.end());
    in.push_back(s);
  }
  std::vector<Shape> shapes = graph_.infer_shapes(in);
  // Storage was sized for max_batch rows: a value must not grow for fewer rows.
  for (size_t v = 0; v < shapes.size(); ++v) {
    const Slot& s = slot_[static_cast<size_t>(owner_[v])];
    if (s.home == Home::arena && float_bytes(shapes[v]) > s.bytes)
      throw ModelError("model " + graph_.source + ": value '" + graph_.values[v].name + "' has shape " +
                       shape_str(shapes[v]) + " for " + std::to_string(rows) +
                       " rows, larger than for the prepared batch of " + std::to_string(max_batch_));
  }
  shapes_ = std::move(shapes);
  shapes_rows_ = rows;
  return shapes_;
}

void CudaBackend::run(int64_t rows, const std::vector<const float*>& inputs,
                      const std::vector<float*>& outputs) {
  MGI_ASSERT(busy_.empty(), "CUDA backend: run() with " + std::to_string(busy_.size()) + " batch(es) outstanding");
  submit(rows, inputs, outputs);
  collect();
}

void CudaBackend::submit(int64_t rows, const std::vector<const float*>& inputs,
                         const std::vector<float*>& outputs) {
  MGI_ASSERT(prepared_, "CUDA backend: submit() before prepare()");
  MGI_ASSERT(rows >= 1 && rows <= max_batch_, "CUDA backend: a batch of " + std::to_string(rows) +
                                                   " rows, prepared for 1.." + std::to_string(max_batch_));
  MGI_ASSERT(inputs.size() == graph_.inputs.size() && outputs.size() == graph_.outputs.size(),
             "CUDA backend: a batch needs one pointer per graph input and output");
  MGI_ASSERT(busy_.size() < lanes_.size(), "CUDA backend: submit() with every lane busy (collect() first)");
  MGI_CUDA(cudaSetDevice(device_));
  const std::vector<Shape>& shapes = shapes_for(rows);
  const int li = next_lane_;
  Lane& lane = lanes_[static_cast<size_t>(li)];
  try {
    // Upload, once the lane's previous batch has finished reading its inputs
    // (that batch was collected, so this is only a guard).
    MGI_CUDA(cudaStreamWaitEvent(h2d_.get(), lane.computed.get(), 0));
    for (size_t k = 0; k < inputs.size(); ++k) {
      const size_t bytes = float_bytes(shapes[static_cast<size_t>(graph_.inputs[k])]);
      if (bytes == 0) continue;
      const void* src = inputs[k];
      if (!is_pinned(src)) {  // the lane's previous upload from the stage is done (collected)
        if (!lane.in_stage.get()) lane.in_stage = PinnedBuffer(in_bytes_);
        std::memcpy(lane.in_stage.bytes_ptr() + in_at_[k], src, bytes);
        src = lane.in_stage.bytes_ptr() + in_at_[k];
      }
      MGI_CUDA(cudaMemcpyAsync(lane.in.bytes_ptr() + in_at_[k], src, bytes, cudaMemcpyHostToDevice, h2d_.get()));
    }
    lane.loaded.record(h2d_.get());

    // Compute after the upload, and after the lane's previous download freed its output buffer.
    MGI_CUDA(cudaStreamWaitEvent(stream_.get(), lane.loaded.get(), 0));
    MGI_CUDA(cudaStreamWaitEvent(stream_.get(), lane.unloaded.get(), 0));
    lane_ = li;
    for (const Node& n : graph_.nodes) execute(n, shapes);
    // Outputs leave the arena at once, so the next batch may compute while this one downloads.
    for (size_t k = 0; k < outputs.size(); ++k) {
      const int v = graph_.outputs[k];
      const size_t bytes = float_bytes(shapes[static_cast<size_t>(v)]);
      if (bytes)
        MGI_CUDA(cudaMemcpyAsync(lane.out.bytes_ptr() + out_at_[k], data(v), bytes, cudaMemcpyDeviceToDevice,
                                 stream_.get()));
    }
    lane.computed.record(stream_.get());

    // Download: straight into page-locked caller memory, else into the stage (copied out in collect()).
    MGI_CUDA(cudaStreamWaitEvent(d2h_.get(), lane.computed.get(), 0));
    lane.dst.assign(outputs.size(), nullptr);
    lane.dst_bytes.assign(outputs.size(), 0);
    for (size_t k = 0; k < outputs.size(); ++k) {
      const size_t bytes = float_bytes(shapes[static_cast<size_t>(graph_.outputs[k])]);
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
  for (size_t k = 0; k < lane.dst.size(); ++k)
    if (lane.dst[k]) std::memcpy(lane.dst[k], lane.out_stage.bytes_ptr() + out_at_[k], lane.dst_bytes[k]);
}

void CudaBackend::drain() noexcept {
  if (busy_.empty()) return;
  (void)cudaSetDevice(device_);
  sync_all();
  busy_.clear();
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

}  // namespace mgi::cuda

namespace mgi {

std::unique_ptr<Backend> make_cuda_backend(int device) { return make_cuda_backend(device, BackendOptions{}); }

std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions& options) {
  const int count = cuda_device_count();
  if (count == 0)
    throw RuntimeError("runtime.device: cuda requested but no CUDA device is visible (no driver, no GPU, "
                       "or CUDA_VISIBLE_DEVICES hides them)");
  if (device < 0 || device >= count)
    throw RuntimeError("runtime.device: CUDA device " + std::to_string(device) + " requested but " +
                       std::to_string(count) + " visible");
  return std::make_unique<cuda::CudaBackend>(device, options);
}

}  // namespace mgi
