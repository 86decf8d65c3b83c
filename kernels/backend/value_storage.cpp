// Where the CUDA backend's values live: the arena layout of the intermediate
// values for a batch size, the lanes' input/output buffers, the device address
// of a value (data()) and the value shapes of a batch.
#include <string>

#include "cuda_backend.hpp"
#include "error.hpp"
#include "memory_plan.hpp"
#include "storage_math.hpp"

namespace mgi::cuda {

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

}  // namespace mgi::cuda
