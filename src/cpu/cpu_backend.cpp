#include "cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unistd.h>
#include <vector>

#include "error.hpp"
#include "format.hpp"
#include "gemm.hpp"
#include "graph_fuse.hpp"

namespace mgi {

namespace {

// MGI_PROFILE_OPS=1: wall time of every node the CPU backend runs, summed per op type and
// per node, printed to stderr when the process exits (each rank prints its own). Off by
// default: then the cost is one branch per node.
struct OpProfile {
  struct Acc {
    double s = 0;
    long calls = 0;
  };
  const bool on = [] {
    const char* e = std::getenv("MGI_PROFILE_OPS");
    return e != nullptr && *e != '\0' && std::strcmp(e, "0") != 0;
  }();
  std::mutex mu;
  std::map<std::string, Acc> by_op, by_node;

  void add(const Node& n, const Shape* out, double s) {
    std::string op = n.op_type;
    if (n.def != nullptr && n.def->name != n.op_type) op += " (" + n.def->name + ")";
    if (!n.epilogue.empty()) op += " +" + std::to_string(n.epilogue.size()) + " fused";
    std::string node = n.name + " [" + op + (out ? " -> " + shape_str(*out) : "") + "]";
    std::lock_guard<std::mutex> lock(mu);
    Acc& a = by_op[op];
    a.s += s;
    ++a.calls;
    Acc& b = by_node[node];
    b.s += s;
    ++b.calls;
  }

  static void print_top(const std::map<std::string, Acc>& m, double total, size_t top, const char* what) {
    std::vector<std::pair<std::string, Acc>> v(m.begin(), m.end());
    std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.s > b.second.s; });
    std::fprintf(stderr, "  %-10s %9s %7s %8s  %s\n", "seconds", "calls", "share", "ms/call", what);
    for (size_t i = 0; i < v.size() && i < top; ++i)
      std::fprintf(stderr, "  %-10.3f %9ld %6.1f%% %8.3f  %s\n", v[i].second.s, v[i].second.calls,
                   100.0 * v[i].second.s / total, 1e3 * v[i].second.s / static_cast<double>(v[i].second.calls),
                   v[i].first.c_str());
  }

  ~OpProfile() {
    if (!on || by_op.empty()) return;
    double total = 0;
    for (const auto& kv : by_op) total += kv.second.s;
    std::fprintf(stderr, "MGI_PROFILE_OPS (pid %d): %.3f s in CPU backend nodes\n", static_cast<int>(getpid()),
                 total);
    print_top(by_op, total, 25, "op type");
    std::fprintf(stderr, "  slowest nodes:\n");
    print_top(by_node, total, 15, "node [op -> output shape of the last call]");
  }
};

OpProfile& op_profile() {
  static OpProfile p;
  return p;
}

}  // namespace

CpuBackend::CpuBackend(int threads, const BackendOptions& options)
    : threads_(threads > 0 ? threads : omp_get_max_threads()), options_(options), profile_(op_profile().on) {}

std::string CpuBackend::describe() const {
  // Always fp32 here; a lower precision asked for the CUDA backend is named so the plan shows it was not used.
  std::string prec = "fp32";
  if (options_.precision != Precision::fp32)
    prec += std::string("; runtime.precision ") + precision_name(options_.precision) + " applies to CUDA only";
  return std::string("cpu (GEMM kernel ") + cpu::gemm_kernel_name() + ", " + std::to_string(threads_) + (threads_ == 1 ? " thread, " : " threads, ") + prec + ")";
}

ShapePlan CpuBackend::plan_for(int64_t rows) const {
  std::vector<Shape> in;
  for (const Shape& r : input_rows_) {
    Shape s = r;
    s.insert(s.begin(), rows);
    in.push_back(std::move(s));
  }
  return graph_.plan(in);
}

const ShapePlan& CpuBackend::plan_at(int64_t rows) {
  if (rows == max_batch_) return plan_max_;
  if (rows != cached_rows_) {
    plan_cached_ = plan_for(rows);
    cached_rows_ = rows;
  }
  return plan_cached_;
}

void CpuBackend::prepare(const Graph& graph, const std::vector<Shape>& input_rows, int64_t max_batch) {
  const std::string where = "model " + graph.source + ": ";
  if (input_rows.size() != graph.inputs.size())
    throw ModelError(where + "has " + std::to_string(graph.inputs.size()) + " input(s) but " +
                     std::to_string(input_rows.size()) + " input shape(s) were given");
  if (max_batch < 1) throw RuntimeError("cpu backend: max_batch must be >= 1, got " + std::to_string(max_batch));
  // A model whose inputs fix the batch ([1, 3, 224, 224]) runs batches of exactly
  // that many rows (the caller pads a short one); its outputs are checked at it.
  fixed_batch_ = model_fixed_batch(graph);
  if (fixed_batch_ > 0 && max_batch != fixed_batch_)
    throw ModelError(where + "its inputs fix the batch at " + std::to_string(fixed_batch_) +
                     " rows; prepared for " + std::to_string(max_batch));
  graph_ = options_.fuse ? fuse_graph(graph, input_rows) : graph;
  input_rows_ = input_rows;
  max_batch_ = max_batch;
  cached_rows_ = -1;
  shaped_.clear();
  plan_max_ = plan_for(max_batch);
  const std::vector<Shape>& shapes_max_ = plan_max_.shapes;
  const int64_t r1 = fixed_batch_ > 0 ? fixed_batch_ : 1, r2 = fixed_batch_ > 0 ? fixed_batch_ : 2;
  const std::vector<Shape> s1 = fixed_batch_ > 0 ? shapes_max_ : plan_for(1).shapes;
  const std::vector<Shape> s2 = fixed_batch_ > 0 ? shapes_max_ : plan_for(2).shapes;
  for (size_t k = 0; k < graph_.outputs.size(); ++k) {
    const size_t v = static_cast<size_t>(graph_.outputs[k]);
    const Shape &a = s1[v], &b = s2[v], &m = shapes_max_[v];
    if (a.empty() || a[0] != r1 || b[0] != r2 || m[0] != max_batch || row_shape(a) != row_shape(b))
      throw ModelError(where + "output '" + graph_.output_name(k) + "' has shape " + shape_str(b) +
                       " for a batch of " + std::to_string(r2) + " rows; the batch must be its first dimension" +
                       (fixed_batch_ > 0 ? "" : " (was the model exported with a fixed batch size?)"));
  }

  // Weights as the graph holds them (the packed copies below replace most of them).
  weight_bytes_ = 0;
  {
    std::vector<char> counted(graph_.values.size(), 0);
    for (const Node& n : graph_.nodes)
      for (int id : n.inputs)
        if (id >= 0 && graph_.values[static_cast<size_t>(id)].is_constant && !counted[static_cast<size_t>(id)]) {
          counted[static_cast<size_t>(id)] = 1;
          weight_bytes_ += static_cast<int64_t>(graph_.values[static_cast<size_t>(id)].data.bytes());
        }
  }
  if (options_.memory_limit > 0 && weight_bytes_ > options_.memory_limit)
    throw OutOfMemory("cpu backend: model " + graph.source + " needs " + human_bytes(weight_bytes_) +
                      " for its weights alone; runtime.memory_limit is " + human_bytes(options_.memory_limit));

  // Weights (the constant 2-D B of a Gemm/MatMul) packed once for the GEMM
  // kernel; a constant read only that way then drops its unpacked copy.
  opts_.assign(graph_.nodes.size(), cpu::ExecOptions{});
  packed_.clear();
  std::map<std::pair<int, bool>, const cpu::PackedB*> packed_of;  // (value, transposed) -> packing
  std::vector<int> plain_reads(graph_.values.size(), 0);
  host_node_.assign(graph_.nodes.size(), 0);
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    opts_[i].threads = threads_;
    for (int id : n.outputs)  // output 0 of a multi-output node may be unused (-1)
      if (id >= 0 && graph_.values[static_cast<size_t>(id)].host) host_node_[i] = 1;
    const bool gemm = n.is("Gemm") || n.is("MatMul");
    const int w = gemm ? n.inputs[1] : -1;
    const Value* wv = w >= 0 ? &graph_.values[static_cast<size_t>(w)] : nullptr;
    if (wv && wv->is_constant && wv->data.dtype == DType::f32 && wv->data.shape.size() == 2 &&
        wv->data.bytes() == static_cast<size_t>(shape_numel(wv->data.shape)) * sizeof(float)) {
      const bool tb = n.is("Gemm") && n.trans_b;
      const cpu::PackedB*& p = packed_of[{w, tb}];
      if (!p) {
        const Shape& ws = wv->data.shape;
        packed_.push_back(std::make_unique<cpu::PackedB>());
        cpu::pack_b(wv->data.data<float>(), tb, tb ? ws[1] : ws[0], tb ? ws[0] : ws[1], *packed_.back());
        p = packed_.back().get();
      }
      opts_[i].packed_b = p;
    }
    // ConvTranspose (conv.cpp) with one group and a constant W [C, M, k...]: its GEMM's B is W viewed
    // as [C, M * k], packed here once (else per call). Conv needs none: its weight is the GEMM's A,
    // which the kernel reads unpacked. Kept separate from packed_of: W also stays readable as itself.
    const int cw = n.is("ConvTranspose") && n.group == 1 && n.inputs.size() > 1 ? n.inputs[1] : -1;
    const Value* cv = cw >= 0 ? &graph_.values[static_cast<size_t>(cw)] : nullptr;
    if (cv && cv->is_constant && cv->data.dtype == DType::f32 && cv->data.shape.size() >= 3 &&
        cv->data.bytes() == static_cast<size_t>(shape_numel(cv->data.shape)) * sizeof(float)) {
      const int64_t rows = cv->data.shape[0], cols = shape_numel(cv->data.shape) / std::max<int64_t>(rows, 1);
      packed_.push_back(std::make_unique<cpu::PackedB>());
      cpu::pack_b(cv->data.data<float>(), false, rows, cols, *packed_.back());
      opts_[i].packed_b = packed_.back().get();
    }
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (n.inputs[k] >= 0 && !(k == 1 && opts_[i].packed_b)) ++plain_reads[static_cast<size_t>(n.inputs[k])];
  }
  for (const auto& [key, p] : packed_of) {
    Value& v = graph_.values[static_cast<size_t>(key.first)];
    if (plain_reads[static_cast<size_t>(key.first)] == 0) v.data.release();
  }

  // Buffers: a value's slot is released after its last reader, then reused.
  const size_t nv = graph_.values.size();
  std::vector<size_t> last_use(nv, 0);
  for (size_t i = 0; i < graph_.nodes.size(); ++i)
    for (int id : graph_.nodes[i].inputs)
      if (id >= 0) last_use[static_cast<size_t>(id)] = i;
  for (int id : graph_.outputs) last_use[static_cast<size_t>(id)] = SIZE_MAX;
  slot_.assign(nv, -1);
  std::vector<int64_t> capacity;
  std::vector<int> free_slots;
  // Slots are planned in bytes: one output per node here (multi-output nodes
  // get a slot per output below, never shared with each other).
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    if (host_node_[i]) continue;
    for (size_t o = 0; o < n.outputs.size(); ++o) {
    if (n.outputs[o] < 0) continue;
    const size_t out = static_cast<size_t>(n.outputs[o]);
    const int64_t need = shape_numel(shapes_max_[out]) * static_cast<int64_t>(dtype_size(graph_.values[out].dtype));
    int best = -1;
    for (size_t f = 0; f < free_slots.size(); ++f) {  // smallest that fits, else the largest
      const int s = free_slots[f];
      const bool fits = capacity[static_cast<size_t>(s)] >= need;
      if (best < 0) {
        best = static_cast<int>(f);
        continue;
      }
      const int b = free_slots[static_cast<size_t>(best)];
      const bool best_fits = capacity[static_cast<size_t>(b)] >= need;
      if ((fits && (!best_fits || capacity[static_cast<size_t>(s)] < capacity[static_cast<size_t>(b)])) ||
          (!fits && !best_fits && capacity[static_cast<size_t>(s)] > capacity[static_cast<size_t>(b)]))
        best = static_cast<int>(f);
    }
    int slot;
    if (best >= 0) {
      slot = free_slots[static_cast<size_t>(best)];
      free_slots.erase(free_slots.begin() + best);
      capacity[static_cast<size_t>(slot)] = std::max(capacity[static_cast<size_t>(slot)], need);
    } else {
      slot = static_cast<int>(capacity.size());
      capacity.push_back(need);
    }
    slot_[out] = slot;
    }
    for (int id : n.inputs) {
      if (id < 0) continue;
      const size_t v = static_cast<size_t>(id);
      if (slot_[v] >= 0 && last_use[v] == i &&
          std::find(free_slots.begin(), free_slots.end(), slot_[v]) == free_slots.end())
        free_slots.push_back(slot_[v]);
    }
  }
  double total = 0;
  for (int64_t c : capacity) total += static_cast<double>(c);
  if (options_.memory_limit > 0 && static_cast<double>(weight_bytes_) + total > static_cast<double>(options_.memory_limit)) {
    slots_.clear();
    throw OutOfMemory("cpu backend: model " + graph.source + " needs " +
                      human_bytes(weight_bytes_ + static_cast<int64_t>(total)) + " (weights " +
                      human_bytes(weight_bytes_) + ", activations " + human_bytes(static_cast<int64_t>(total)) +
                      " for batches of " + std::to_string(max_batch) + " rows); runtime.memory_limit is " +
                      human_bytes(options_.memory_limit));
  }
  try {
    slots_.assign(capacity.size(), {});
    for (size_t s = 0; s < capacity.size(); ++s)
      slots_[s].assign(static_cast<size_t>(std::max<int64_t>((capacity[s] + 7) / 8, 1)), 0);
  } catch (const std::exception&) {  // bad_alloc / length_error: sizes come from the model
    slots_.clear();
    throw OutOfMemory("cpu backend: cannot allocate " + std::to_string(static_cast<int64_t>(total / (1 << 20))) +
                       " MiB of activation buffers for batches of " + std::to_string(max_batch) +
                       " rows (lower runtime.batch_size)");
  }
  ptr_.assign(nv, nullptr);
  for (size_t v = 0; v < nv; ++v) {
    if (graph_.values[v].is_constant) ptr_[v] = graph_.values[v].data.raw();
    else if (slot_[v] >= 0) ptr_[v] = slots_[static_cast<size_t>(slot_[v])].data();
  }
}

MemoryInfo CpuBackend::memory_info() const {
  MemoryInfo m = host_memory_info();
  const int64_t limit = options_.memory_limit;
  if (limit > 0) {
    const int64_t held = max_batch_ > 0 ? weight_bytes_ + buffer_bytes() : 0;
    m.total_bytes = std::min(m.total_bytes, limit);
    m.free_bytes = std::min(m.free_bytes, std::max<int64_t>(0, limit - held));
  }
  return m;
}

int64_t CpuBackend::buffer_bytes() const {
  int64_t b = 0;
  for (const auto& s : slots_) b += static_cast<int64_t>(s.size() * sizeof(uint64_t));
  return b;
}

void CpuBackend::check_io(size_t inputs, size_t outputs) const {
  if (max_batch_ == 0) throw RuntimeError("cpu backend: run() before prepare()");
  if (inputs != graph_.inputs.size() || outputs != graph_.outputs.size())
    throw RuntimeError("cpu backend: run() got " + std::to_string(inputs) + " inputs and " +
                       std::to_string(outputs) + " outputs; the graph has " +
                       std::to_string(graph_.inputs.size()) + " and " + std::to_string(graph_.outputs.size()));
}

void CpuBackend::run(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  check_io(inputs.size(), outputs.size());
  if (rows < 1 || rows > max_batch_ || (fixed_batch_ > 0 && rows != fixed_batch_))
    throw RuntimeError("cpu backend: run() with " + std::to_string(rows) + " rows; prepared for " +
                       (fixed_batch_ > 0 ? "exactly " : "1..") + std::to_string(max_batch_));
  execute(plan_at(rows), inputs, outputs);
}

void CpuBackend::run_shaped(const std::vector<Shape>& input_shapes, const std::vector<const void*>& inputs,
                            const std::vector<void*>& outputs) {
  check_io(inputs.size(), outputs.size());
  if (input_shapes.size() != inputs.size())
    throw RuntimeError("cpu backend: run_shaped() got " + std::to_string(input_shapes.size()) +
                       " shapes for " + std::to_string(inputs.size()) + " inputs");
  for (size_t k = 0; k < input_shapes.size(); ++k) {
    const Shape& s = input_shapes[k];
    bool ok = s.size() == input_rows_[k].size() + 1 && s[0] >= 1 && s[0] <= max_batch_ &&
              (fixed_batch_ == 0 || s[0] == fixed_batch_);
    for (size_t d = 1; ok && d < s.size(); ++d) ok = s[d] >= 0 && s[d] <= input_rows_[k][d - 1];
    if (!ok)
      throw RuntimeError("cpu backend: input '" + graph_.input_name(k) + "' has shape " + shape_str(s) +
                         "; prepared for at most " + shape_str(plan_max_.shapes[static_cast<size_t>(graph_.inputs[k])]));
  }
  auto it = shaped_.find(input_shapes);
  if (it == shaped_.end()) {
    ShapePlan p = graph_.plan(input_shapes);
    // Buffers were sized for the prepared shapes; a model whose values grow
    // when the sequence shrinks would overrun them.
    for (size_t v = 0; v < p.shapes.size(); ++v)
      if (slot_[v] >= 0 && static_cast<size_t>(shape_numel(p.shapes[v])) * dtype_size(graph_.values[v].dtype) >
                               slots_[static_cast<size_t>(slot_[v])].size() * sizeof(uint64_t))
        throw RuntimeError("cpu backend: value '" + graph_.values[v].name + "' needs more room for inputs " +
                           shape_str(input_shapes[0]) + " than for the prepared shapes");
    if (shaped_.size() >= kShapedCacheEntries) shaped_.clear();
    it = shaped_.emplace(input_shapes, std::move(p)).first;
  }
  execute(it->second, inputs, outputs);
}

void CpuBackend::execute(const ShapePlan& plan, const std::vector<const void*>& inputs,
                         const std::vector<void*>& outputs) {
  for (size_t k = 0; k < inputs.size(); ++k) ptr_[static_cast<size_t>(graph_.inputs[k])] = inputs[k];
  for (size_t v = 0; v < plan.host.size(); ++v)
    if (graph_.values[v].host) ptr_[v] = plan.host[v].raw();
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    if (host_node_[i]) continue;  // computed by the plan
    const Node& n = graph_.nodes[i];
    KernelArgs args{n, {}, {}, opts_[i]};
    args.in.reserve(n.inputs.size());
    for (int id : n.inputs) {
      if (id < 0) {
        args.in.push_back(In{});
        continue;
      }
      const size_t v = static_cast<size_t>(id);
      args.in.push_back(In{graph_.values[v].dtype, &plan.shapes[v], ptr_[v]});
    }
    for (int id : n.outputs) {
      if (id < 0) {
        args.out.push_back(Out{});
        continue;
      }
      const size_t v = static_cast<size_t>(id);
      args.out.push_back(Out{graph_.values[v].dtype, &plan.shapes[v], const_cast<void*>(ptr_[v])});
    }
    if (profile_) {
      const auto t0 = std::chrono::steady_clock::now();
      n.def->cpu(args);
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      op_profile().add(n, args.out.empty() ? nullptr : args.out[0].shape, dt.count());
    } else {
      n.def->cpu(args);
    }
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const size_t v = static_cast<size_t>(graph_.outputs[k]);
    const size_t bytes = static_cast<size_t>(shape_numel(plan.shapes[v])) * dtype_size(graph_.values[v].dtype);
    if (bytes > 0 && outputs[k] != ptr_[v]) std::memcpy(outputs[k], ptr_[v], bytes);
  }
}

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }
std::unique_ptr<Backend> make_cpu_backend(int threads, const BackendOptions& options) {
  return std::make_unique<CpuBackend>(threads, options);
}

}  // namespace mgi
