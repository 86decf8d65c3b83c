// Ops that make tensors from shapes or scalars: Shape, Size (read only their
// input's shape), ConstantOfShape, Range (host-known parameters).
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

// ---------------------------------------------------------------- Shape, Size

DType type_i64(const Node&, const std::vector<DType>&, size_t) { return DType::i64; }
DType type_of_value(const Node& n, const std::vector<DType>&, size_t) { return n.tensor.dtype; }

constexpr int64_t kNoEnd = std::numeric_limits<int64_t>::max();

void parse_shape(const OnnxNode& on, Node& n) {  // opset 15: start, end
  n.ints = {on.get_int("start", 0), on.get_int("end", kNoEnd)};
}

// [first, last) of the dims Shape returns.
void shape_range(const Node& n, int64_t rank, int64_t& first, int64_t& last) {
  first = 0;
  last = rank;
  if (n.opset < 15 || n.ints.size() != 2) return;
  first = n.ints[0];
  last = n.ints[1];
  if (first < 0) first += rank;
  if (last < 0) last += rank;
  first = std::min(std::max<int64_t>(first, 0), rank);
  last = std::min(std::max<int64_t>(last, 0), rank);
  if (last < first) last = first;
}

void infer_shape(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  int64_t first, last;
  shape_range(a.node, static_cast<int64_t>(a.shape(0).size()), first, last);
  out[0] = {DType::i64, {last - first}};
}

void cpu_shape(const KernelArgs& k) {
  const Shape& s = *k.in[0].shape;
  int64_t first, last;
  shape_range(k.node, static_cast<int64_t>(s.size()), first, last);
  int64_t* y = k.out[0].as<int64_t>();
  for (int64_t d = first; d < last; ++d) y[d - first] = s[static_cast<size_t>(d)];
}

void infer_size(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  shape_numel(a.shape(0));
  out[0] = {DType::i64, {}};
}

void cpu_size(const KernelArgs& k) { k.out[0].as<int64_t>()[0] = shape_numel(*k.in[0].shape); }

// ---------------------------------------------------------------- ConstantOfShape

void parse_constant_of_shape(const OnnxNode& on, Node& n) {
  if (const onnx::TensorProto* t = on.get_tensor("value")) {
    n.tensor = tensor_from_onnx(*t, "model " + on.source() + ": node '" + on.name() + "' attribute 'value'");
    if (n.tensor.numel() != 1) on.fail("attribute 'value' must hold one element");
  } else {
    n.tensor = Tensor::f32({1}, {0.0f});
  }
}

void infer_constant_of_shape(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Tensor& v = a.value(0, "shape");
  if (v.dtype != DType::i64) a.fail(std::string("input 'shape' has type ") + dtype_name(v.dtype) + "; expected int64");
  if (v.shape.size() > 1) a.fail("input 'shape' has shape " + shape_str(v.shape) + "; expected a 1-D tensor");
  const Shape s = v.ints();
  for (int64_t d : s)
    if (d < 0) a.fail("shape " + shape_str(s) + " has a negative dimension");
  shape_numel(s);  // overflow check
  if (a.node.tensor.numel() != 1) a.fail("attribute 'value' must hold one element");
  out[0] = {a.node.tensor.dtype, s};
}

void cpu_constant_of_shape(const KernelArgs& k) {
  const Tensor& v = k.node.tensor;
  const size_t es = dtype_size(v.dtype);
  const int64_t n = k.out[0].numel();
  char* y = static_cast<char*>(k.out[0].data);
  for (int64_t e = 0; e < n; ++e) std::memcpy(y + static_cast<size_t>(e) * es, v.raw(), es);
}

// ---------------------------------------------------------------- Range

// Number of elements of Range(start, limit, delta): max(ceil((limit - start) / delta), 0).
int64_t range_count(const InferArgs& a, DType t, const Tensor& start, const Tensor& limit, const Tensor& delta) {
  if (t == DType::f32) {
    const double st = start.double_at(0), lim = limit.double_at(0), d = delta.double_at(0);
    if (d == 0.0) a.fail("delta is 0");
    const double n = std::max(std::ceil((lim - st) / d), 0.0);
    if (!(n <= static_cast<double>(kMaxTensorElements)))
      a.fail("would produce more than 2^34 elements (start " + std::to_string(st) + ", limit " + std::to_string(lim) +
             ", delta " + std::to_string(d) + ")");
    return static_cast<int64_t>(n);
  }
  const __int128 st = start.int_at(0), lim = limit.int_at(0), d = delta.int_at(0);
  if (d == 0) a.fail("delta is 0");
  const __int128 span = lim - st;
  __int128 n = span / d;
  if (n * d != span && ((span > 0) == (d > 0))) ++n;  // ceil for a positive quotient
  if (n < 0) n = 0;
  if (n > kMaxTensorElements)
    a.fail("would produce more than 2^34 elements (start " + std::to_string(start.int_at(0)) + ", limit " +
           std::to_string(limit.int_at(0)) + ", delta " + std::to_string(delta.int_at(0)) + ")");
  return static_cast<int64_t>(n);
}

void infer_range(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const DType t = a.type(0);
  if (t != DType::f32 && t != DType::i32 && t != DType::i64)
    a.fail(std::string("start has type ") + dtype_name(t) + "; expected float32, int32 or int64");
  if (a.type(1) != t || a.type(2) != t) a.fail("start, limit and delta must have one type");
  const Tensor &st = a.value(0, "start"), &lim = a.value(1, "limit"), &d = a.value(2, "delta");
  if (st.numel() != 1 || lim.numel() != 1 || d.numel() != 1) a.fail("start, limit and delta must be scalars");
  const int64_t n = range_count(a, t, st, lim, d);
  out[0] = {t, {n}};
}

// start + k * delta, computed exactly (float32: in double, rounded once).
void cpu_range(const KernelArgs& k) {
  const int64_t n = k.out[0].numel();
  const DType t = k.out[0].dtype;
  if (t == DType::f32) {
    const double st = k.in[0].as<float>()[0], d = k.in[2].as<float>()[0];
    float* y = k.out[0].as<float>();
    for (int64_t e = 0; e < n; ++e) y[e] = static_cast<float>(st + static_cast<double>(e) * d);
  } else {
    const int64_t st = element_as_int(t, k.in[0].data, 0), d = element_as_int(t, k.in[2].data, 0);
    for (int64_t e = 0; e < n; ++e) {
      const int64_t v = st + e * d;  // between start and limit: no overflow
      if (t == DType::i64) k.out[0].as<int64_t>()[e] = v;
      else k.out[0].as<int32_t>()[e] = static_cast<int32_t>(v);
    }
  }
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "Shape";
    d.parse = parse_shape;
    d.infer = infer_shape;
    d.cpu = cpu_shape;
    d.type = type_i64;
    d.shape_only = true;
    d.types = "T: all; T1: int64";
    d.notes = "Opset 15 start/end: negative counts from the end, clamped to [0, rank].";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Size";
    d.infer = infer_size;
    d.cpu = cpu_size;
    d.type = type_i64;
    d.shape_only = true;
    d.types = "T: all; T1: int64";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "ConstantOfShape";
    d.since = 9;
    d.parse = parse_constant_of_shape;
    d.infer = infer_constant_of_shape;
    d.cpu = cpu_constant_of_shape;
    d.type = type_of_value;
    d.types = "T1: int64; T2: all";
    d.notes = "`input` (the shape) must be known on the host. `value`: a one-element tensor (default float32 0).";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Range";
    d.since = 11;
    d.min_inputs = d.max_inputs = 3;
    d.infer = infer_range;
    d.cpu = cpu_range;
    d.types = "T: float32, int32, int64";
    d.notes = "start, limit, delta must be known on the host (one-element tensors). Element k is start + k * "
              "delta (float32: computed in double, rounded once).";
    r.add(d);
  }
}

}  // namespace mgi
