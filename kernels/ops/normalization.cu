// Inference BatchNormalization and LayerNormalization, written in the CPU
// backend's arithmetic order so results differ by rounding only.
#include <cmath>

#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "launch.cuh"
#include "ops.hpp"
#include "reduce.cuh"

namespace mgi::cuda {
namespace {

// y = x * a + b with a = scale / sqrt(var + eps), b = bias - mean * a; the
// explicit _rn intrinsics keep the compiler from fusing into FMAs.
__global__ void batch_norm_kernel(const float* x, float* y, int64_t channels, int64_t spatial,
                                  int64_t n, const float* scale, const float* bias,
                                  const float* mean, const float* var, float epsilon) {
  for (int64_t i = global_index(); i < n; i += global_stride()) {
    const int64_t c = (i / spatial) % channels;
    const float a = scale[c] / sqrtf(var[c] + epsilon);
    const float b = __fsub_rn(bias[c], __fmul_rn(mean[c], a));
    y[i] = __fadd_rn(__fmul_rn(x[i], a), b);
  }
}

// One group of G threads per row; two passes (mean, then centred variance)
// with double accumulators, as on the CPU.
template <int G>
__global__ void layer_norm_kernel(const float* x, float* y, int64_t rows, int64_t d,
                                  const float* scale, int64_t scale_step, const float* bias,
                                  int64_t bias_step, float epsilon) {
  const int lane = threadIdx.x % G;
  const int groups = blockDim.x / G;
  for (int64_t r = int64_t(blockIdx.x) * groups + threadIdx.x / G; r < rows;
       r += int64_t(gridDim.x) * groups) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    double s = 0.0;
    for (int64_t j = lane; j < d; j += G) s += xr[j];
    const double mean = group_reduce<G, double>(s, SumOp{}) / double(d);
    double q = 0.0;
    for (int64_t j = lane; j < d; j += G) {
      const double c = xr[j] - mean;
      q += c * c;
    }
    const double var = group_reduce<G, double>(q, SumOp{}) / double(d);
    const float m = float(mean);
    const float inv = float(1.0 / sqrt(var + double(epsilon)));
    for (int64_t j = lane; j < d; j += G) {
      float t = __fmul_rn(__fmul_rn(xr[j] - m, inv), scale[j * scale_step]);
      if (bias) t = __fadd_rn(t, bias[j * bias_step]);
      yr[j] = t;
    }
  }
}

}  // namespace

void batch_norm(const float* x, float* y, int64_t batch, int64_t channels, int64_t spatial,
                const float* scale, const float* bias, const float* mean, const float* var,
                float epsilon, cudaStream_t stream) {
  const int64_t n = batch * channels * spatial;
  if (n == 0) return;
  batch_norm_kernel<<<grid_for(n), kBlock, 0, stream>>>(x, y, channels, spatial, n, scale, bias,
                                                         mean, var, epsilon);
  MGI_CUDA_LAUNCH();
}

void layer_norm(const float* x, float* y, int64_t rows, int64_t d, const float* scale,
                bool scale_single, const float* bias, bool bias_single, float epsilon,
                cudaStream_t stream) {
  if (rows == 0 || d == 0) return;
  const int64_t ss = scale_single ? 0 : 1, bs = bias_single ? 0 : 1;
  if (d <= 1024) {  // a warp per row
    layer_norm_kernel<32><<<grid_for(rows, kBlock / 32), kBlock, 0, stream>>>(
        x, y, rows, d, scale, ss, bias, bs, epsilon);
  } else {
    layer_norm_kernel<kBlock><<<grid_for(rows, 1), kBlock, 0, stream>>>(x, y, rows, d, scale, ss,
                                                                         bias, bs, epsilon);
  }
  MGI_CUDA_LAUNCH();
}

namespace {

void batch_norm_node(CudaOpContext& c) {
  for (size_t k = 0; k < 5; ++k) c.want(k, {DType::f32});
  const Shape& x = c.shape(0);
  auto p = [&](size_t k) { return c.in[k].as<const float>(); };
  batch_norm(p(0), c.out[0].as<float>(), x[0], x[1], dims_product(x, 2, x.size()), p(1), p(2), p(3), p(4),
             c.node.epsilon, c.stream);
}

// Scale and bias hold one value per normalized element, or a single one.
void layer_norm_node(CudaOpContext& c) {
  c.want(0, {DType::f32});
  const Shape& x = c.shape(0);
  const size_t ax = norm_axis(c.node.axis, x.size());
  const int64_t rows = dims_product(x, 0, ax), d = dims_product(x, ax, x.size());
  const bool scale1 = shape_numel(c.shape(1)) == 1 && d != 1;
  const bool bias1 = c.has(2) && shape_numel(c.shape(2)) == 1 && d != 1;
  const float* bias = c.has(2) ? c.in[2].as<const float>() : nullptr;
  layer_norm(c.in[0].as<const float>(), c.out[0].as<float>(), rows, d, c.in[1].as<const float>(), scale1, bias, bias1,
             c.node.epsilon, c.stream);
}

}  // namespace

void register_normalization_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "BatchNormalization", batch_norm_node});
  r.add({"", "LayerNormalization", layer_norm_node});
}

}  // namespace mgi::cuda
