// Where the CUDA backend's values live: the arena layout of the intermediate
// values for a batch size, the lanes' input/output buffers, the device address
// of a value (data()) and the plan (value shapes, host values) of a batch.
#include <string>

#include "cuda_backend.hpp"
#include "error.hpp"
#include "memory_plan.hpp"
#include "storage_math.hpp"

namespace mgi::cuda {

size_t CudaBackend::value_bytes(int value, const Shape& shape) const {
  return typed_bytes(shape, graph_.values[static_cast<size_t>(value)].dtype);
}

// Arena placement of every value that is neither a constant, a graph input
// (those live in the lanes) nor a host value (in its BatchPlan). Graph outputs
// stay to the end: they are copied into the lane after the last node.
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
    const Value& val = graph_.values[static_cast<size_t>(o)];
    if (val.is_constant || val.host || is_input[static_cast<size_t>(o)]) return -1;
    int& b = buffer_of[static_cast<size_t>(o)];
    if (b < 0) {
      b = static_cast<int>(value_of.size());
      value_of.push_back(o);
      bytes.push_back(value_bytes(o, shapes[static_cast<size_t>(o)]));
      pinned.push_back(false);
    }
    return b;
  };
  std::vector<PlanStep> steps;
  for (size_t ni = 0; ni < graph_.nodes.size(); ++ni) {
    PlanStep st;
    const CudaKernelDef* k = kernel_[ni];
    if (k) {  // nodes without a kernel (alias, host values) neither read nor write device storage
      const Node& n = graph_.nodes[ni];
      for (size_t q = 0; q < n.inputs.size(); ++q)
        if (n.inputs[q] >= 0 && !(k->host_inputs >> q & 1u) && buffer(n.inputs[q]) >= 0)
          st.reads.push_back(buffer(n.inputs[q]));
      st.writes.push_back(buffer(n.outputs[0]));
    }
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
  for (int v : host_upload_) slot_[static_cast<size_t>(v)].home = Home::host;
  make_lanes(max_shapes);
}

void CudaBackend::make_lanes(const std::vector<Shape>& max_shapes) {
  in_at_.clear();
  out_at_.clear();
  in_bytes_ = out_bytes_ = 0;
  for (int v : graph_.inputs) {
    in_at_.push_back(in_bytes_);
    const size_t bytes = value_bytes(v, max_shapes[static_cast<size_t>(v)]);
    slot_[static_cast<size_t>(v)] = Slot{Home::input, in_bytes_, bytes};
    in_bytes_ += align_up(bytes);
  }
  for (int v : graph_.outputs) {
    out_at_.push_back(out_bytes_);
    out_bytes_ += align_up(value_bytes(v, max_shapes[static_cast<size_t>(v)]));
  }
  lanes_.clear();
  lanes_.resize(kLanes);
  for (Lane& lane : lanes_) {
    lane.in = DeviceBuffer(in_bytes_);
    lane.out = DeviceBuffer(out_bytes_);
    lane.flag = DeviceBuffer(sizeof(int));
    lane.flag_host = PinnedBuffer(sizeof(int));
    *static_cast<int*>(lane.flag_host.get()) = 0;
    MGI_CUDA(cudaMemsetAsync(lane.flag.get(), 0, sizeof(int), stream_.get()));
  }
  stream_.synchronize();
  busy_.clear();
  next_lane_ = 0;
}

size_t CudaBackend::lane_bytes() const { return lanes_.size() * (in_bytes_ + out_bytes_); }

std::vector<Shape> CudaBackend::input_shapes(int64_t rows) const {
  std::vector<Shape> in;
  for (const Shape& r : input_rows_) {
    Shape s{rows};
    s.insert(s.end(), r.begin(), r.end());
    in.push_back(s);
  }
  return in;
}

int64_t CudaBackend::planned_bytes(int64_t rows) const {
  if (!prepared_ || rows < 1) return -1;
  const std::vector<Shape> shapes = graph_.plan(input_shapes(rows)).shapes;
  size_t lane = 0;
  for (int v : graph_.inputs) lane += align_up(value_bytes(v, shapes[static_cast<size_t>(v)]));
  for (int v : graph_.outputs) lane += align_up(value_bytes(v, shapes[static_cast<size_t>(v)]));
  return static_cast<int64_t>(layout_for(shapes).plan.bytes + kLanes * lane);
}

void* CudaBackend::data(int value) const {
  const size_t o = static_cast<size_t>(owner_[static_cast<size_t>(value)]);
  const Slot& s = slot_[o];
  switch (s.home) {
    case Home::constant: return constants_.bytes_ptr() + s.offset;
    case Home::arena: return arena_.bytes_ptr() + s.offset;
    case Home::input: return lanes_[static_cast<size_t>(lane_)].in.bytes_ptr() + s.offset;
    case Home::host:
      MGI_ASSERT(plan_ && plan_->at[o] != SIZE_MAX, "CUDA backend: host value '" + graph_.values[o].name + "' not uploaded");
      return plan_->device.bytes_ptr() + plan_->at[o];
    case Home::none: break;
  }
  MGI_ASSERT(false, "CUDA backend: value '" + graph_.values[o].name + "' has no storage");
  return nullptr;
}

// A host value's tensor in this plan, or a constant's host copy where kept.
const Tensor* CudaBackend::host_tensor(int value, const BatchPlan& plan) const {
  const size_t v = static_cast<size_t>(value);
  const Value& val = graph_.values[v];
  if (val.host) return &plan.host[v];
  if (val.is_constant && val.data.bytes() == typed_bytes(val.data.shape, val.data.dtype)) return &val.data;
  return nullptr;
}

const CudaBackend::BatchPlan& CudaBackend::plan_for(int64_t rows) { return plan_for(input_shapes(rows)); }

const CudaBackend::BatchPlan& CudaBackend::plan_for(const std::vector<Shape>& in) {
  const int64_t rows = in.empty() || in[0].empty() ? 0 : in[0][0];
  auto it = plans_.find(in);
  if (it != plans_.end()) return *it->second;
  auto p = std::make_shared<BatchPlan>();
  ShapePlan sp = graph_.plan(in);
  // Storage was sized for max_batch rows: a value must not grow for fewer rows.
  for (size_t v = 0; v < sp.shapes.size(); ++v) {
    const Slot& s = slot_[static_cast<size_t>(owner_[v])];
    if (s.home == Home::arena && value_bytes(static_cast<int>(v), sp.shapes[v]) > s.bytes)
      throw ModelError("model " + graph_.source + ": value '" + graph_.values[v].name + "' has shape " +
                       shape_str(sp.shapes[v]) + " for " + std::to_string(rows) + " rows (inputs " +
                       shape_str(in.empty() ? Shape{} : in[0]) + "), larger than for the prepared batch of " +
                       std::to_string(max_batch_));
  }
  p->shapes = std::move(sp.shapes);
  p->host = std::move(sp.host);
  p->at.assign(graph_.values.size(), SIZE_MAX);
  size_t total = 0;
  for (int v : host_upload_) {
    p->at[static_cast<size_t>(v)] = total;
    total += align_up(p->host[static_cast<size_t>(v)].bytes());
  }
  if (plans_.size() >= kPlanCacheEntries) {
    sync_all();  // queued kernels may still read the evicted plans' device copies
    plans_.clear();
  }
  p->device = DeviceBuffer(total);
  for (int v : host_upload_) {
    const Tensor& t = p->host[static_cast<size_t>(v)];
    // On the compute stream, before any kernel of this batch; the host tensor outlives the copy.
    if (t.bytes())
      MGI_CUDA(cudaMemcpyAsync(p->device.bytes_ptr() + p->at[static_cast<size_t>(v)], t.raw(), t.bytes(),
                               cudaMemcpyHostToDevice, stream_.get()));
  }
  return *plans_.emplace(in, std::move(p)).first->second;
}

}  // namespace mgi::cuda
