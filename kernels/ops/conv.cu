// Conv (1-D, 2-D, 3-D; groups, depthwise; strides, dilations, pads and
// auto_pad; bias; a fused unary epilogue), ConvTranspose (GEMM into columns,
// then col2im as a gather: each output element sums its kernel positions in
// order, so no atomics), MaxPool / AveragePool / LpPool and
// GlobalAveragePool / GlobalMaxPool on the device. Paths of a Conv: see
// conv_plan.hpp. GEMMs compute in runtime.precision's cuBLAS compute type:
// fp32 CUBLAS_COMPUTE_32F (no TF32); tf32, and bf16 / fp16 (Conv keeps fp32
// operands: no converted weight copies), CUBLAS_COMPUTE_32F_FAST_TF32.
// The direct Conv and the pools sum each output element in the CPU backend's
// order (conv.cpp's direct loop, pool.cpp), so they differ by rounding only.
#include <cmath>

#include "conv_plan.hpp"
#include "cuda_check.hpp"
#include "cuda_kernels.hpp"
#include "gemm_engine.hpp"
#include "launch.cuh"
#include "ops.hpp"

namespace mgi::cuda {
namespace {

// cols [images][C * KK][OUT] of images [0, images) of x (x at the chunk's first image).
__global__ void im2col_kernel(const float* x, float* col, Geo3 g, int64_t C, int64_t total) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    const int64_t src = im2col_source(g, C, i);
    col[i] = src < 0 ? 0.0f : x[src];
  }
}

// One thread per output element: an fma chain over (c, kd, kh, kw) from 0,
// padding skipped, then + bias (the CPU backend's direct loop).
__global__ void conv_direct_kernel(const float* x, const float* w, const float* bias, float* y, Geo3 g,
                                   int64_t C, int64_t M, int64_t cg, int64_t mg, int64_t total) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    const int64_t pix = i % g.OUT;
    const int64_t m = (i / g.OUT) % M;
    const int64_t img = i / (g.OUT * M);
    const int64_t grp = m / mg;
    const int64_t ow = pix % g.out[2], oh = (pix / g.out[2]) % g.out[1], od = pix / (g.out[2] * g.out[1]);
    const float* xg = x + (img * C + grp * cg) * g.IN;
    const float* wq = w + m * cg * g.KK;
    float acc = 0.0f;
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t kd = 0; kd < g.k[0]; ++kd) {
        const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
        for (int64_t kh = 0; kh < g.k[1]; ++kh) {
          const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
          const bool row_in = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1];
          for (int64_t kw = 0; kw < g.k[2]; ++kw, ++wq) {
            const int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
            if (!row_in || iw < 0 || iw >= g.in[2]) continue;
            acc = fmaf(xg[c * g.IN + (id * g.in[1] + ih) * g.in[2] + iw], *wq, acc);
          }
        }
      }
    if (bias) acc = __fadd_rn(acc, bias[m]);
    y[i] = acc;
  }
}

// y [N, M, OUT] += bias[m].
__global__ void channel_bias_kernel(float* y, const float* bias, int64_t M, int64_t OUT, int64_t total) {
  for (int64_t i = global_index(); i < total; i += global_stride()) y[i] = __fadd_rn(y[i], bias[(i / OUT) % M]);
}

// y [images, M, OUT] = col2im(col) (+ bias).
__global__ void col2im_kernel(const float* col, const float* bias, float* y, Geo3 g, int64_t M, int64_t total) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    float acc = col2im_element(g, M, col, i);
    if (bias) acc = __fadd_rn(acc, bias[(i / g.OUT) % M]);
    y[i] = acc;
  }
}

enum class PoolKind { max, avg, lp };

template <PoolKind K>
__global__ void pool_kernel(const float* x, float* y, Geo3 g, bool include_pad, float p, int64_t total) {
  for (int64_t i = global_index(); i < total; i += global_stride()) {
    const int64_t e = i % g.OUT;
    const int64_t pl = i / g.OUT;
    const int64_t o[3] = {e / (g.out[2] * g.out[1]), (e / g.out[2]) % g.out[1], e % g.out[2]};
    int64_t lo[3], hi[3], padded = 1;
    for (int a = 0; a < 3; ++a) {
      const int64_t start = o[a] * g.s[a] - g.pb[a];
      lo[a] = start >= 0 ? 0 : (-start + g.d[a] - 1) / g.d[a];
      hi[a] = start >= g.in[a] ? 0 : min(g.k[a], (g.in[a] - 1 - start) / g.d[a] + 1);
      if (hi[a] < lo[a]) hi[a] = lo[a];
      const int64_t plo = start >= -g.pb[a] ? 0 : (-g.pb[a] - start + g.d[a] - 1) / g.d[a];
      const int64_t phi = min(g.k[a], (g.in[a] + g.pe[a] - 1 - start) / g.d[a] + 1);
      padded *= max(int64_t(0), phi - plo);
    }
    const float* xp = x + pl * g.IN;
    float acc = K == PoolKind::max ? -INFINITY : 0.0f;
    int64_t count = 0;
    for (int64_t a = lo[0]; a < hi[0]; ++a) {
      const int64_t id = o[0] * g.s[0] - g.pb[0] + a * g.d[0];
      for (int64_t b = lo[1]; b < hi[1]; ++b) {
        const int64_t ih = o[1] * g.s[1] - g.pb[1] + b * g.d[1];
        const float* xr = xp + (id * g.in[1] + ih) * g.in[2] + o[2] * g.s[2] - g.pb[2];
        for (int64_t c = lo[2]; c < hi[2]; ++c) {
          const float v = xr[c * g.d[2]];
          if (K == PoolKind::max) acc = v > acc || isnan(v) ? v : acc;
          else if (K == PoolKind::avg) acc = __fadd_rn(acc, v);
          else acc = __fadd_rn(acc, powf(fabsf(v), p));
        }
        count += hi[2] - lo[2];
      }
    }
    if (K == PoolKind::max) {
      y[i] = acc;
    } else if (K == PoolKind::avg) {
      const int64_t div = include_pad ? padded : count;
      y[i] = div > 0 ? __fdiv_rn(acc, static_cast<float>(div)) : 0.0f;
    } else {
      y[i] = powf(acc, 1.0f / p);
    }
  }
}

// One thread per plane, the CPU backend's order: max in index order; the
// mean as eight interleaved partial sums added pairwise.
template <bool Max>
__global__ void global_pool_kernel(const float* x, float* y, int64_t planes, int64_t size) {
  for (int64_t pl = global_index(); pl < planes; pl += global_stride()) {
    const float* xp = x + pl * size;
    if (Max) {
      float m = -INFINITY;
      for (int64_t i = 0; i < size; ++i) m = xp[i] > m || isnan(xp[i]) ? xp[i] : m;
      y[pl] = m;
    } else {
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 8 <= size; i += 8)
        for (int j = 0; j < 8; ++j) part[j] = __fadd_rn(part[j], xp[i + j]);
      for (int j = 0; i < size; ++i, ++j) part[j] = __fadd_rn(part[j], xp[i]);
      const float sum = __fadd_rn(__fadd_rn(__fadd_rn(part[0], part[1]), __fadd_rn(part[2], part[3])),
                                  __fadd_rn(__fadd_rn(part[4], part[5]), __fadd_rn(part[6], part[7])));
      y[pl] = size > 0 ? __fdiv_rn(sum, static_cast<float>(size)) : 0.0f;
    }
  }
}

cublasComputeType_t conv_compute(Precision p) {
  return p == Precision::fp32 ? CUBLAS_COMPUTE_32F : CUBLAS_COMPUTE_32F_FAST_TF32;
}

void epilogue(const CudaOpContext& c, float* y, int64_t n) {
  if (c.node.epilogue.empty() || n == 0) return;
  std::vector<ChainStep> steps;
  for (const UnaryStep& s : c.node.epilogue) steps.push_back(ChainStep{unary_op(s), s.alpha, s.beta});
  unary_chain(steps, y, y, n, c.stream);
}

void conv_node(CudaOpContext& c) {
  for (size_t k = 0; k < c.in.size(); ++k)
    if (c.has(k)) c.want(k, {DType::f32});
  const ConvPlan p = plan_conv(c.node, c.shape(0), c.shape(1));
  const float* x = c.in[0].as<const float>();
  const float* w = c.in[1].as<const float>();
  const float* bias = c.has(2) ? c.in[2].as<const float>() : nullptr;
  float* y = c.out[0].as<float>();
  const int64_t total = p.N * p.M * p.g.OUT;
  if (total == 0) return;
  const Geo3& g = p.g;
  if (p.path == ConvPath::direct) {
    conv_direct_kernel<<<grid_for(total), kBlock, 0, c.stream>>>(x, w, bias, y, g, p.C, p.M, p.cg, p.mg, total);
    MGI_CUDA(cudaGetLastError());
    epilogue(c, y, total);
    return;
  }
  const cublasComputeType_t compute = conv_compute(c.gemm.precision());
  const float one = 1.0f, zero = 0.0f;
  // Row-major Y_g[mg, OUT] = W_g[mg, kg] B[kg, OUT] per image, as column-major
  // Y_g^T = B^T W_g^T (gemm.cpp): cuBLAS's A is B (ld OUT), its B is W_g (ld kg, stride 0).
  auto gemms = [&](const float* b, int64_t b_image_stride, int64_t first, int64_t images) {
    if (p.kg == 0) {
      MGI_CUDA(cudaMemsetAsync(y + first * p.M * p.g.OUT, 0, static_cast<size_t>(images * p.M * p.g.OUT) * sizeof(float),
                               c.stream));
      return;
    }
    for (int64_t grp = 0; grp < p.G; ++grp)
      MGI_CUBLAS(cublasGemmStridedBatchedEx_64(
          c.cublas, CUBLAS_OP_N, CUBLAS_OP_N, p.g.OUT, p.mg, p.kg, &one, b + grp * p.kg * p.g.OUT, CUDA_R_32F,
          p.g.OUT, b_image_stride, w + grp * p.mg * p.kg, CUDA_R_32F, p.kg, 0, &zero,
          y + (first * p.M + grp * p.mg) * p.g.OUT, CUDA_R_32F, p.g.OUT, p.M * p.g.OUT, images, compute,
          CUBLAS_GEMM_DEFAULT));
  };
  if (p.path == ConvPath::pointwise) {
    gemms(x, p.C * p.g.IN, 0, p.N);  // kg = cg, OUT = IN: X's channels are the columns
  } else {
    size_t have = 0;
    float* col = c.gemm.conv_scratch(&have);
    const int64_t per = p.images_per_chunk(static_cast<int64_t>(have / sizeof(float)));
    if (!col || static_cast<int64_t>(have / sizeof(float)) < p.col_per_image)
      c.fail("no im2col scratch for this batch (" + std::to_string(p.col_per_image * 4) + " bytes per image)");
    for (int64_t first = 0; first < p.N; first += per) {
      const int64_t images = std::min(per, p.N - first);
      const int64_t n = images * p.col_per_image;
      im2col_kernel<<<grid_for(n), kBlock, 0, c.stream>>>(x + first * p.C * p.g.IN, col, g, p.C, n);
      MGI_CUDA(cudaGetLastError());
      gemms(col, p.col_per_image, first, images);
    }
  }
  if (bias) {
    channel_bias_kernel<<<grid_for(total), kBlock, 0, c.stream>>>(y, bias, p.M, p.g.OUT, total);
    MGI_CUDA(cudaGetLastError());
  }
  epilogue(c, y, total);
}

// Per chunk of images: per group one strided-batched GEMM over the images,
// col_g^T [IN, mg * KK] = X_g^T [IN, cg] W_g [cg, mg * KK] (column-major:
// X_g as stored, W_g transposed, stride 0), then col2im with the bias.
void conv_transpose_node(CudaOpContext& c) {
  for (size_t k = 0; k < c.in.size(); ++k)
    if (c.has(k)) c.want(k, {DType::f32});
  const ConvPlan p = plan_conv_transpose(c.node, c.shape(0), c.shape(1));
  const float* x = c.in[0].as<const float>();
  const float* w = c.in[1].as<const float>();
  const float* bias = c.has(2) ? c.in[2].as<const float>() : nullptr;
  float* y = c.out[0].as<float>();
  if (p.N * p.M * p.g.OUT == 0) return;
  size_t have = 0;
  float* col = c.gemm.conv_scratch(&have);
  const int64_t floats = static_cast<int64_t>(have / sizeof(float));
  if (!col || floats < p.col_per_image)
    c.fail("no col2im scratch for this batch (" + std::to_string(p.col_per_image * 4) + " bytes per image)");
  const int64_t per = p.images_per_chunk(floats);
  const cublasComputeType_t compute = conv_compute(c.gemm.precision());
  const float one = 1.0f, zero = 0.0f;
  for (int64_t first = 0; first < p.N; first += per) {
    const int64_t images = std::min(per, p.N - first);
    if (p.cg == 0 || p.g.IN == 0) {
      MGI_CUDA(cudaMemsetAsync(col, 0, static_cast<size_t>(images * p.col_per_image) * sizeof(float), c.stream));
    } else {
      for (int64_t grp = 0; grp < p.G; ++grp)
        MGI_CUBLAS(cublasGemmStridedBatchedEx_64(
            c.cublas, CUBLAS_OP_N, CUBLAS_OP_T, p.g.IN, p.kg, p.cg, &one,
            x + (first * p.C + grp * p.cg) * p.g.IN, CUDA_R_32F, p.g.IN, p.C * p.g.IN,
            w + grp * p.cg * p.kg, CUDA_R_32F, p.kg, 0, &zero, col + grp * p.kg * p.g.IN, CUDA_R_32F, p.g.IN,
            p.col_per_image, images, compute, CUBLAS_GEMM_DEFAULT));
    }
    const int64_t n = images * p.M * p.g.OUT;
    col2im_kernel<<<grid_for(n), kBlock, 0, c.stream>>>(col, bias, y + first * p.M * p.g.OUT, p.g, p.M, n);
    MGI_CUDA(cudaGetLastError());
  }
  epilogue(c, y, p.N * p.M * p.g.OUT);
}

template <PoolKind K>
void pool_node(CudaOpContext& c) {
  c.want(0, {DType::f32});
  const Shape& xs = c.shape(0);
  const Geo3 geo = pool_geo(c.node, xs);
  const int64_t total = xs[0] * xs[1] * geo.OUT;
  if (total == 0) return;
  pool_kernel<K><<<grid_for(total), kBlock, 0, c.stream>>>(c.in[0].as<const float>(), c.out[0].as<float>(), geo,
                                                           c.node.count_include_pad, static_cast<float>(c.node.lp_p),
                                                           total);
  MGI_CUDA(cudaGetLastError());
}

template <bool Max>
void global_pool_node(CudaOpContext& c) {
  c.want(0, {DType::f32});
  const Shape& xs = c.shape(0);
  const int64_t planes = xs[0] * xs[1], size = dims_product(xs, 2, xs.size());
  if (planes == 0) return;
  global_pool_kernel<Max><<<grid_for(planes), kBlock, 0, c.stream>>>(c.in[0].as<const float>(), c.out[0].as<float>(),
                                                                     planes, size);
  MGI_CUDA(cudaGetLastError());
}

}  // namespace

void register_conv_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "Conv", conv_node});
  r.add({"", "ConvTranspose", conv_transpose_node});
  r.add({"", "MaxPool", pool_node<PoolKind::max>});
  r.add({"", "AveragePool", pool_node<PoolKind::avg>});
  r.add({"", "LpPool", pool_node<PoolKind::lp>});
  r.add({"", "GlobalMaxPool", global_pool_node<true>});
  r.add({"", "GlobalAveragePool", global_pool_node<false>});
}

}  // namespace mgi::cuda
