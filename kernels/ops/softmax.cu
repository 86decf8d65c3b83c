// Softmax / LogSoftmax along one axis of x viewed as [outer, n, inner],
// numerically stable and in the CPU backend's order: exp(x - max) * (1 / sum),
// (x - max) - log(sum), with the sum accumulated in double.
#include <cmath>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "launch.cuh"
#include "ops.hpp"
#include "reduce.cuh"

namespace mgi::cuda {
namespace {

// Summand of the normalizer: LogSoftmax exponentiates in double (its sum only
// feeds a log), Softmax in float (the same exp value is also the output).
template <bool LOG>
__device__ inline double term(float shifted) {
  return LOG ? exp(double(shifted)) : double(expf(shifted));
}

// inner == 1: rows of n contiguous values, one group of G threads per row.
template <int G, bool LOG>
__global__ void softmax_rows(const float* x, float* y, int64_t rows, int64_t n) {
  const int lane = threadIdx.x % G;
  const int groups = blockDim.x / G;
  // The loop bound is uniform over each group, so the group reductions stay converged.
  for (int64_t r = int64_t(blockIdx.x) * groups + threadIdx.x / G; r < rows;
       r += int64_t(gridDim.x) * groups) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = -INFINITY;
    for (int64_t j = lane; j < n; j += G) m = fmaxf(m, xr[j]);
    m = group_reduce<G, float>(m, MaxOp{});
    double s = 0.0;
    for (int64_t j = lane; j < n; j += G) s += term<LOG>(xr[j] - m);
    s = group_reduce<G, double>(s, SumOp{});
    if (LOG) {
      const float ls = float(log(s));
      for (int64_t j = lane; j < n; j += G) yr[j] = (xr[j] - m) - ls;
    } else {
      const float inv = float(1.0 / s);
      for (int64_t j = lane; j < n; j += G) yr[j] = expf(xr[j] - m) * inv;
    }
  }
}

// inner > 1: one thread per (outer, inner) column; neighbouring threads read
// neighbouring addresses.
template <bool LOG>
__global__ void softmax_columns(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t t = global_index(); t < outer * inner; t += global_stride()) {
    const int64_t o = t / inner;
    const int64_t i = t - o * inner;
    const float* xc = x + o * n * inner + i;
    float* yc = y + o * n * inner + i;
    float m = -INFINITY;
    for (int64_t j = 0; j < n; ++j) m = fmaxf(m, xc[j * inner]);
    double s = 0.0;
    for (int64_t j = 0; j < n; ++j) s += term<LOG>(xc[j * inner] - m);
    if (LOG) {
      const float ls = float(log(s));
      for (int64_t j = 0; j < n; ++j) yc[j * inner] = (xc[j * inner] - m) - ls;
    } else {
      const float inv = float(1.0 / s);
      for (int64_t j = 0; j < n; ++j) yc[j * inner] = expf(xc[j * inner] - m) * inv;
    }
  }
}

template <bool LOG>
void launch(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, cudaStream_t s) {
  if (inner == 1) {
    if (n <= 1024) {  // a warp per row: short rows waste no threads
      softmax_rows<32, LOG><<<grid_for(outer, kBlock / 32), kBlock, 0, s>>>(x, y, outer, n);
    } else {
      softmax_rows<kBlock, LOG><<<grid_for(outer, 1), kBlock, 0, s>>>(x, y, outer, n);
    }
  } else {
    softmax_columns<LOG><<<grid_for(outer * inner), kBlock, 0, s>>>(x, y, outer, n, inner);
  }
  MGI_CUDA_LAUNCH();
}

}  // namespace

void softmax(const float* x, float* y, int64_t outer, int64_t n, int64_t inner, bool log,
             cudaStream_t stream) {
  if (outer == 0 || n == 0 || inner == 0) return;
  if (log)
    launch<true>(x, y, outer, n, inner, stream);
  else
    launch<false>(x, y, outer, n, inner, stream);
}

namespace {

// opset < 13 flattens to 2-D at axis; opset >= 13 normalizes along the one axis.
template <bool LOG>
void softmax_node(CudaOpContext& c) {
  c.want(0, {DType::f32});
  const Node& n = c.node;
  const Shape& x = c.shape(0);
  const size_t ax = norm_axis(n.axis, x.size());
  const int64_t outer = dims_product(x, 0, ax);
  const int64_t len = n.softmax_2d ? dims_product(x, ax, x.size()) : x[ax];
  const int64_t inner = n.softmax_2d ? 1 : dims_product(x, ax + 1, x.size());
  softmax(c.in[0].as<const float>(), c.out[0].as<float>(), outer, len, inner, LOG, c.stream);
}

}  // namespace

void register_softmax_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "Softmax", softmax_node<false>});
  r.add({"", "LogSoftmax", softmax_node<true>});
}

}  // namespace mgi::cuda
