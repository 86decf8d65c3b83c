// Equal (numeric and bool, numpy broadcast, bool output) and Where (bool
// condition, X/Y of any one type, three-way broadcast).
#include <string>

#include "error.hpp"
#include "layout.hpp"

namespace mgi {

namespace {

DType type_bool(const Node&, const std::vector<DType>&, size_t) { return DType::b8; }
DType type_of_x(const Node&, const std::vector<DType>& in, size_t) { return in.at(1); }

// ---------------------------------------------------------------- Equal

void infer_equal(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  if (a.type(0) != a.type(1))
    a.fail(std::string("inputs have types ") + dtype_name(a.type(0)) + " and " + dtype_name(a.type(1)) +
           "; expected one type");
  out[0] = {DType::b8, a.broadcast(a.shape(0), a.shape(1))};
}

template <class T, class Load>
void equal_typed(const KernelArgs& k, Load load) {
  const Shape& s = *k.out[0].shape;
  const std::array<std::vector<int64_t>, 2> st{broadcast_strides(*k.in[0].shape, s),
                                               broadcast_strides(*k.in[1].shape, s)};
  const T* x = k.in[0].as<T>();
  const T* y = k.in[1].as<T>();
  uint8_t* z = k.out[0].as<uint8_t>();
  for_each_broadcast(s, st, [&](int64_t e, const std::array<int64_t, 2>& o) {
    z[e] = static_cast<uint8_t>(load(x[o[0]]) == load(y[o[1]]));
  });
}

void cpu_equal(const KernelArgs& k) {
  auto same = [](auto v) { return v; };
  switch (k.in[0].dtype) {
    case DType::f32: return equal_typed<float>(k, same);
    case DType::f16: return equal_typed<uint16_t>(k, [](uint16_t v) { return half_to_float(v); });
    case DType::bf16: return equal_typed<uint16_t>(k, [](uint16_t v) { return bf16_to_float(v); });
    case DType::i64: return equal_typed<int64_t>(k, same);
    case DType::i32: return equal_typed<int32_t>(k, same);
    case DType::i8: return equal_typed<int8_t>(k, same);
    case DType::u8: return equal_typed<uint8_t>(k, same);
    case DType::b8: return equal_typed<uint8_t>(k, [](uint8_t v) { return v != 0; });
  }
}

// ---------------------------------------------------------------- Where

void infer_where(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  if (a.type(0) != DType::b8)
    a.fail(std::string("input 'condition' has type ") + dtype_name(a.type(0)) + "; expected bool");
  if (a.type(1) != a.type(2))
    a.fail(std::string("X and Y must have one type (have ") + dtype_name(a.type(1)) + " and " +
           dtype_name(a.type(2)) + ")");
  out[0] = {a.type(1), a.broadcast(a.broadcast(a.shape(0), a.shape(1)), a.shape(2))};
}

template <class T>
void where_typed(const KernelArgs& k) {
  const Shape& s = *k.out[0].shape;
  const std::array<std::vector<int64_t>, 3> st{broadcast_strides(*k.in[0].shape, s),
                                               broadcast_strides(*k.in[1].shape, s),
                                               broadcast_strides(*k.in[2].shape, s)};
  const uint8_t* c = k.in[0].as<uint8_t>();
  const T* x = k.in[1].as<T>();
  const T* y = k.in[2].as<T>();
  T* z = k.out[0].as<T>();
  for_each_broadcast(s, st, [&](int64_t e, const std::array<int64_t, 3>& o) { z[e] = c[o[0]] ? x[o[1]] : y[o[2]]; });
}

void cpu_where(const KernelArgs& k) {
  switch (dtype_size(k.in[1].dtype)) {
    case 1: return where_typed<uint8_t>(k);
    case 2: return where_typed<uint16_t>(k);
    case 4: return where_typed<uint32_t>(k);
    case 8: return where_typed<uint64_t>(k);
    default: MGI_ASSERT(false, "element size");
  }
}

}  // namespace

void register_logic_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "Equal";
    d.since = 7;
    d.min_inputs = d.max_inputs = 2;
    d.infer = infer_equal;
    d.cpu = cpu_equal;
    d.type = type_bool;
    d.types = "T: all (both inputs one type); T1: bool";
    d.notes = "Numpy broadcast. Floats compare as values (NaN != NaN, -0 == 0). Opset 1-6 (broadcast "
              "attribute) is not supported; strings are not.";
    r.add(d);
  }
  {
    OpDef d;
    d.name = "Where";
    d.since = 9;
    d.min_inputs = d.max_inputs = 3;
    d.infer = infer_where;
    d.cpu = cpu_where;
    d.type = type_of_x;
    d.types = "B: bool; T: all";
    d.notes = "Three-way numpy broadcast of condition, X and Y.";
    r.add(d);
  }
}

}  // namespace mgi
