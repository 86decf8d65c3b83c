// Sum/max over a group of G threads that together own one row: G = 32 is one
// warp (shuffles only), G = kBlock is the whole block (warp shuffles + shared
// memory). Every thread of the group gets the result.
#pragma once
#include "launch.cuh"

namespace mgi::cuda {

struct SumOp {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <int G, class T, class Op>
__device__ inline T group_reduce(T v, Op op) {
  static_assert(G == 32 || G == kBlock, "group is one warp or one block");
#pragma unroll
  for (int o = 16; o > 0; o /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  if constexpr (G > 32) {
    __shared__ T partial[G / 32];
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) partial[warp] = v;
    __syncthreads();
    v = partial[0];
#pragma unroll
    for (int w = 1; w < G / 32; ++w) v = op(v, partial[w]);
    __syncthreads();  // partial is reused by the next reduction
  }
  return v;
}

}  // namespace mgi::cuda
