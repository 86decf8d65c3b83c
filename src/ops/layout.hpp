// Helpers of the layout, index and logic ops (layout.cpp) that other code
// shares: the any-type transpose, broadcast iteration and the arity check.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

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

}  // namespace mgi
