// Index maps of the strided kernels (broadcast binary ops, expand, transpose,
// slice, where): an output element's flat index -> element offsets in up to
// two operands (Strided), or three (Strided3: Where).
// Built on the host with the fewest dims (size-1 dims dropped, neighbouring
// dims merged wherever both operands stay linear across them: a same-shape op
// becomes rank 1, a bias add over rows rank 2) and passed by value to kernels.
// Plain C++ apart from MGI_HD, so host tests check the same index math.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "broadcast.hpp"
#include "error.hpp"

#ifdef __CUDACC__
#define MGI_HD __host__ __device__
#else
#define MGI_HD
#endif
#ifdef __CUDA_ARCH__  // device pass only: host compilers warn on an unknown pragma
#define MGI_UNROLL _Pragma("unroll")
#else
#define MGI_UNROLL
#endif

namespace mgi::cuda {

// Rank limit of the strided kernels after dims are dropped and merged.
constexpr int kMaxDims = 8;

struct Strided {
  int rank = 0;
  int64_t dims[kMaxDims] = {};
  int64_t sa[kMaxDims] = {};  // element strides of operand a per dim (0 = broadcast)
  int64_t sb[kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int k = 0; k < rank; ++k) n *= dims[k];
    return n;
  }
};

// Offsets of output element i in a and b. R > 0: rank known at compile time
// (unrolled); R == 0: st.rank.
template <int R>
MGI_HD inline void strided_offsets(const Strided& st, int64_t i, int64_t& oa, int64_t& ob) {
  const int rank = R > 0 ? R : st.rank;
  int64_t rem = i;
  oa = 0;
  ob = 0;
  MGI_UNROLL
  for (int k = (R > 0 ? R : kMaxDims) - 1; k >= 0; --k) {
    if (k >= rank) continue;
    const int64_t q = k > 0 ? rem / st.dims[k] : 0;
    const int64_t c = rem - q * st.dims[k];
    oa += c * st.sa[k];
    ob += c * st.sb[k];
    rem = q;
  }
}

// From a broadcast (strides over bc.out). `unit_a`/`unit_b` scale the strides
// (matrix sizes when the dims index a batch of matrices).
inline Strided coalesce(const Broadcast& bc, int64_t unit_a = 1, int64_t unit_b = 1) {
  Strided st;
  for (size_t k = 0; k < bc.out.size(); ++k) {
    const int64_t d = bc.out[k];
    const int64_t a = bc.a_strides[k] * unit_a;
    const int64_t b = bc.b_strides[k] * unit_b;
    if (d == 1) continue;
    if (st.rank > 0) {
      const int p = st.rank - 1;
      if (st.sa[p] == a * d && st.sb[p] == b * d) {
        st.dims[p] *= d;
        st.sa[p] = a;
        st.sb[p] = b;
        continue;
      }
    }
    if (st.rank == kMaxDims)
      throw ModelError("CUDA backend: " + shape_str(bc.out) + " needs more than " + std::to_string(kMaxDims) +
                       " strided dims");
    st.dims[st.rank] = d;
    st.sa[st.rank] = a;
    st.sb[st.rank] = b;
    ++st.rank;
  }
  if (st.rank == 0) {  // a single element
    st.rank = 1;
    st.dims[0] = 1;
  }
  return st;
}

// Transpose as a strided gather: output dim k reads input dim perm[k] (both
// operands describe the input). perm must be a permutation of 0..rank-1.
inline Strided transpose_strides(const Shape& x_shape, const std::vector<int64_t>& perm) {
  const size_t rank = x_shape.size();
  if (perm.size() != rank)
    throw ModelError("CUDA backend: Transpose perm " + shape_str(perm) + " for input " + shape_str(x_shape));
  std::vector<int64_t> strides(rank, 1);
  for (size_t k = rank; k-- > 1;) strides[k - 1] = strides[k] * x_shape[k];
  Broadcast bc;
  for (size_t k = 0; k < rank; ++k) {
    const int64_t src = perm[k];
    if (src < 0 || src >= static_cast<int64_t>(rank))
      throw ModelError("CUDA backend: Transpose perm " + shape_str(perm) + " for input " + shape_str(x_shape));
    bc.out.push_back(x_shape[static_cast<size_t>(src)]);
    bc.a_strides.push_back(strides[static_cast<size_t>(src)]);
  }
  bc.b_strides = bc.a_strides;
  return coalesce(bc);
}

// numpy broadcast of a op b.
inline Strided binary_strides(const Shape& a_shape, const Shape& b_shape) {
  return coalesce(broadcast_shapes(a_shape, b_shape));
}

// x broadcast to y_shape, as a gather (both operands describe x).
inline Strided expand_strides(const Shape& x_shape, const Shape& y_shape) {
  Broadcast bc = broadcast_shapes(x_shape, y_shape);
  if (bc.out != y_shape)
    throw ModelError("CUDA backend: cannot expand " + shape_str(x_shape) + " to " + shape_str(y_shape));
  bc.b_strides = bc.a_strides;
  return coalesce(bc);
}

// x (x_shape) sliced: output dim k (out_shape[k] elements) starts at element
// starts[k] of x's dim k and steps by steps[k] (may be negative). Returns the
// gather map; `base` receives the element offset of the output's first element.
inline Strided slice_strides(const Shape& x_shape, const std::vector<int64_t>& starts,
                             const std::vector<int64_t>& steps, const Shape& out_shape, int64_t& base) {
  const size_t rank = x_shape.size();
  if (starts.size() != rank || steps.size() != rank || out_shape.size() != rank)
    throw ModelError("CUDA backend: Slice of " + shape_str(x_shape) + " to " + shape_str(out_shape));
  std::vector<int64_t> strides(rank, 1);
  for (size_t k = rank; k-- > 1;) strides[k - 1] = strides[k] * x_shape[k];
  Broadcast bc;
  base = 0;
  for (size_t k = 0; k < rank; ++k) {
    bc.out.push_back(out_shape[k]);
    bc.a_strides.push_back(strides[k] * steps[k]);
    if (out_shape[k] > 0) base += starts[k] * strides[k];
  }
  bc.b_strides = bc.a_strides;
  return coalesce(bc);
}

// Three operands over one output (Where: condition, x, y), dims dropped and
// merged like coalesce().
struct Strided3 {
  int rank = 0;
  int64_t dims[kMaxDims] = {};
  int64_t s[3][kMaxDims] = {};

  int64_t numel() const {
    int64_t n = 1;
    for (int k = 0; k < rank; ++k) n *= dims[k];
    return n;
  }
};

MGI_HD inline void strided3_offsets(const Strided3& st, int64_t i, int64_t& o0, int64_t& o1, int64_t& o2) {
  int64_t rem = i;
  o0 = o1 = o2 = 0;
  for (int k = st.rank - 1; k >= 0; --k) {
    const int64_t q = k > 0 ? rem / st.dims[k] : 0;
    const int64_t c = rem - q * st.dims[k];
    o0 += c * st.s[0][k];
    o1 += c * st.s[1][k];
    o2 += c * st.s[2][k];
    rem = q;
  }
}

// Each of the three shapes broadcast to `out` (numpy rules; each must broadcast to it).
inline Strided3 broadcast3_strides(const Shape& a, const Shape& b, const Shape& c, const Shape& out) {
  std::vector<int64_t> per[3];
  const Shape* in[3] = {&a, &b, &c};
  for (int q = 0; q < 3; ++q) {
    const Broadcast bc = broadcast_shapes(*in[q], out);
    if (bc.out != out)
      throw ModelError("CUDA backend: cannot broadcast " + shape_str(*in[q]) + " to " + shape_str(out));
    per[q] = bc.a_strides;
  }
  Strided3 st;
  for (size_t k = 0; k < out.size(); ++k) {
    const int64_t d = out[k];
    if (d == 1) continue;
    if (st.rank > 0) {
      const int p = st.rank - 1;
      bool linear = true;
      for (int q = 0; q < 3; ++q) linear = linear && st.s[q][p] == per[q][k] * d;
      if (linear) {
        st.dims[p] *= d;
        for (int q = 0; q < 3; ++q) st.s[q][p] = per[q][k];
        continue;
      }
    }
    if (st.rank == kMaxDims)
      throw ModelError("CUDA backend: " + shape_str(out) + " needs more than " + std::to_string(kMaxDims) +
                       " strided dims");
    st.dims[st.rank] = d;
    for (int q = 0; q < 3; ++q) st.s[q][st.rank] = per[q][k];
    ++st.rank;
  }
  if (st.rank == 0) {
    st.rank = 1;
    st.dims[0] = 1;
  }
  return st;
}

}  // namespace mgi::cuda
