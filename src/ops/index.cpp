// Gather: rows of any type selected by int32/int64 indices along any axis
// (the embedding lookup of a transformer: one memcpy per index).
#include <cstring>
#include <string>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

void parse_gather(const OnnxNode& on, Node& n) { n.axis = on.get_int("axis", 0); }

void infer_gather(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const Shape& idx = a.shape(1);
  if (x.empty()) a.fail("cannot gather from a scalar");
  if (a.type(1) != DType::i64 && a.type(1) != DType::i32)
    a.fail(std::string("input 'indices' has type ") + dtype_name(a.type(1)) + "; expected int32 or int64");
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x.size()));
  Shape s(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(ax));
  s.insert(s.end(), idx.begin(), idx.end());
  s.insert(s.end(), x.begin() + static_cast<std::ptrdiff_t>(ax) + 1, x.end());
  if (x[ax] == 0 && shape_numel(idx) > 0) a.fail("gathers from axis " + std::to_string(ax) + " of size 0");
  shape_numel(s);  // overflow check
  out[0] = {a.type(0), s};
}

template <class I>
void normalize_indices(const KernelArgs& k, const I* idx, int64_t count, int64_t dim, int64_t axis,
                       std::vector<int64_t>& out) {
  out.resize(static_cast<size_t>(count));
  for (int64_t j = 0; j < count; ++j) {
    const int64_t v = static_cast<int64_t>(idx[j]);
    if (v < -dim || v >= dim)
      throw ModelError("node '" + k.node.name + "' (Gather): index " + std::to_string(v) + " (element " +
                       std::to_string(j) + " of the indices) is out of range for axis " + std::to_string(axis) +
                       " of size " + std::to_string(dim) + " (valid: " + std::to_string(-dim) + " to " +
                       std::to_string(dim - 1) + ")");
    out[static_cast<size_t>(j)] = v < 0 ? v + dim : v;
  }
}

void cpu_gather(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const int64_t r = static_cast<int64_t>(x.size());
  const size_t ax = static_cast<size_t>(k.node.axis < 0 ? k.node.axis + r : k.node.axis);
  const int64_t dim = x[ax], count = k.in[1].numel();
  std::vector<int64_t> idx;
  if (k.in[1].dtype == DType::i32) normalize_indices(k, k.in[1].as<int32_t>(), count, dim, static_cast<int64_t>(ax), idx);
  else normalize_indices(k, k.in[1].as<int64_t>(), count, dim, static_cast<int64_t>(ax), idx);
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < ax; ++d) outer *= x[d];
  for (size_t d = ax + 1; d < x.size(); ++d) inner *= x[d];
  const size_t es = dtype_size(k.in[0].dtype), block = static_cast<size_t>(inner) * es;
  const int64_t tasks = outer * count;
  if (tasks == 0 || block == 0) return;
  const char* src = static_cast<const char*>(k.in[0].data);
  char* dst = static_cast<char*>(k.out[0].data);
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tasks * inner > 65536)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / count, j = idx[static_cast<size_t>(t % count)];
    std::memcpy(dst + static_cast<size_t>(t) * block, src + static_cast<size_t>(o * dim + j) * block, block);
  }
}

}  // namespace

void register_index_ops(OpRegistry& r) {
  OpDef d;
  d.name = "Gather";
  d.min_inputs = d.max_inputs = 2;
  d.parse = parse_gather;
  d.infer = infer_gather;
  d.cpu = cpu_gather;
  d.types = "T: all; Tind: int32, int64";
  d.notes = "Any axis; negative indices count from the end. An index out of range fails with a ModelError "
            "naming the index, its position and the valid range.";
  r.add(d);
}

}  // namespace mgi
