// Helpers of the layout, slice/concat, index and logic ops that other code
// shares: the any-type transpose, broadcast iteration, the arity check, and
// host-known integer lists (shapes, axes, starts).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "error.hpp"
#include "op_registry.hpp"

namespace mgi {

// y = x transposed by perm (empty = reversed axes): y's dim k is x's dim
// perm[k]. Elements of elem_size bytes (1, 2, 4 or 8); x has in_shape; y must
// not overlap x. Threads (OpenMP) only above a size threshold; the result never
// depends on them.
void transpose_bytes(const std::vector<int64_t>& perm, const Shape& in_shape, size_t elem_size, const void* x,
                     void* y, int threads);

// Element strides of a tensor of shape `in` over the dims of `out` (numpy
// broadcasting, right-aligned; 0 where `in` has no dim or a dim of 1).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Calls f(e, off) for every element e of `out` in row-major order, off[k]
// being the offset of the element of input k (with strides[k] from
// broadcast_strides) that broadcasts to it.
template <size_t N, class F>
void for_each_broadcast(const Shape& out, const std::array<std::vector<int64_t>, N>& strides, F&& f) {
  const int64_t total = shape_numel(out);
  if (total == 0) return;
  const size_t rank = out.size();
  std::array<int64_t, N> off{};
  if (rank == 0) {
    f(int64_t{0}, off);
    return;
  }
  const int64_t inner = out[rank - 1];
  std::array<int64_t, N> step{};
  for (size_t k = 0; k < N; ++k) step[k] = strides[k][rank - 1];
  std::vector<int64_t> idx(rank, 0);
  std::array<int64_t, N> base{};
  for (int64_t e = 0; e < total; e += inner) {
    off = base;
    for (int64_t j = 0; j < inner; ++j) {
      f(e + j, off);
      for (size_t k = 0; k < N; ++k) off[k] += step[k];
    }
    // Advance the odometer over the outer dims, updating the base offsets.
    for (size_t q = rank - 1; q-- > 0;) {
      if (++idx[q] < out[q]) {
        for (size_t k = 0; k < N; ++k) base[k] += strides[k][q];
        break;
      }
      for (size_t k = 0; k < N; ++k) base[k] -= strides[k][q] * (out[q] - 1);
      idx[q] = 0;
    }
  }
}

// Fails unless the node's input count is within its OpDef's arity and the
// required inputs are present: "expects 2 to 3 inputs, has 1".
void check_inputs(const InferArgs& a);

// Calls f(T{}) with an unsigned integer type of the element size (1, 2, 4 or 8 bytes).
template <class F>
void by_size(size_t size, F&& f) {
  switch (size) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: MGI_ASSERT(false, "element size " + std::to_string(size));
  }
}

// A 1-D integer shape/axes input known on the host, as int64.
inline std::vector<int64_t> int_list(const InferArgs& a, size_t k, const char* what, bool int32_ok) {
  const Tensor& t = a.value(k, what);
  if (t.dtype != DType::i64 && !(int32_ok && t.dtype == DType::i32))
    a.fail(std::string("input '") + what + "' has type " + dtype_name(t.dtype) + "; expected " +
           (int32_ok ? "int32 or int64" : "int64"));
  if (t.shape.size() > 1)
    a.fail(std::string("input '") + what + "' has shape " + shape_str(t.shape) + "; expected a 1-D tensor");
  return t.ints();
}

// The same, read by a kernel from its input (validated by inference).
inline std::vector<int64_t> int_list(const In& in) {
  std::vector<int64_t> v(static_cast<size_t>(in.numel()));
  for (size_t j = 0; j < v.size(); ++j) v[j] = element_as_int(in.dtype, in.data, static_cast<int64_t>(j));
  return v;
}


}  // namespace mgi
