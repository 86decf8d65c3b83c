// Host-side geometry of the CUDA Conv and pooling kernels (conv.cu): the
// node's Spatial (src/ops/spatial.hpp) as 3-D (leading axes of size 1 for
// 1-D and 2-D), and how a Conv runs:
//   direct     few output channels per group (depthwise and the like): one
//              thread per output element, the CPU backend's direct loop order
//   pointwise  1x1 kernel, stride 1, no pads: X itself is the GEMM operand
//   im2col     columns [images][C * k][pixels] in the scratch, then per group
//              one cublasGemmStridedBatchedEx over the images (W with stride 0)
// The im2col scratch holds whole images' columns; a batch whose columns do
// not fit runs in chunks of images_per_chunk images.
#pragma once
#include <cstddef>
#include <cstdint>

#include "geo3.hpp"
#include "graph.hpp"
#include "tensor.hpp"

#ifdef __CUDACC__
#define MGI_HOST_DEVICE __host__ __device__
#else
#define MGI_HOST_DEVICE
#endif

namespace mgi::cuda {

enum class ConvPath { direct, pointwise, im2col };

// Output channels per group at or below which the direct kernel runs (as the CPU backend).
constexpr int64_t kConvDirectMaxChannels = 2;
// The im2col scratch is capped at this many floats (256 MiB), or one image's columns when larger.
constexpr int64_t kConvScratchCapFloats = int64_t(64) << 20;

struct ConvPlan {
  Geo3 g;
  int64_t N = 0, C = 0, M = 0, G = 1, cg = 0, mg = 0, kg = 0;
  ConvPath path = ConvPath::im2col;
  int64_t col_per_image = 0;  // floats of one image's columns (im2col), C * KK * OUT
  // Floats of scratch the node wants for this batch (0 unless im2col).
  int64_t scratch_floats() const;
  // Images per chunk with `scratch` floats available (>= 1; N when all fit).
  int64_t images_per_chunk(int64_t scratch) const;
};

// Element i of the im2col columns [images][C * KK][OUT] of x [images, C, in...]:
// the index of its source element in x, or -1 for padding (the one formula of
// the device kernel, and of the host test that runs it on the CPU).
MGI_HOST_DEVICE inline int64_t im2col_source(const Geo3& g, int64_t C, int64_t i) {
  const int64_t rows = C * g.KK;
  const int64_t pix = i % g.OUT;
  const int64_t r = (i / g.OUT) % rows;
  const int64_t img = i / (g.OUT * rows);
  const int64_t c = r / g.KK, kk = r % g.KK;
  const int64_t kw = kk % g.k[2], kh = (kk / g.k[2]) % g.k[1], kd = kk / (g.k[2] * g.k[1]);
  const int64_t ow = pix % g.out[2], oh = (pix / g.out[2]) % g.out[1], od = pix / (g.out[2] * g.out[1]);
  const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
  const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
  const int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
  if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1] || iw < 0 || iw >= g.in[2]) return -1;
  return (img * C + c) * g.IN + (id * g.in[1] + ih) * g.in[2] + iw;
}

// ConvTranspose: element i of y [images, M, out...] (before the bias) from
// the columns col [images][M * KK][IN] (col[m * KK + k][p]: input pixel p's
// contribution through kernel position k): the sum over the kernel positions
// whose input pixel (o + pb - k * d) / s is whole and inside, in order.
MGI_HOST_DEVICE inline float col2im_element(const Geo3& g, int64_t M, const float* col, int64_t i) {
  const int64_t pix = i % g.OUT;
  const int64_t m = (i / g.OUT) % M;
  const int64_t img = i / (g.OUT * M);
  const int64_t o[3] = {pix / (g.out[2] * g.out[1]), (pix / g.out[2]) % g.out[1], pix % g.out[2]};
  const float* cm = col + (img * M + m) * g.KK * g.IN;
  float acc = 0.0f;
  for (int64_t kd = 0; kd < g.k[0]; ++kd) {
    const int64_t td = o[0] + g.pb[0] - kd * g.d[0];
    if (td < 0 || td % g.s[0] != 0 || td / g.s[0] >= g.in[0]) continue;
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      const int64_t th = o[1] + g.pb[1] - kh * g.d[1];
      if (th < 0 || th % g.s[1] != 0 || th / g.s[1] >= g.in[1]) continue;
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        const int64_t tw = o[2] + g.pb[2] - kw * g.d[2];
        if (tw < 0 || tw % g.s[2] != 0 || tw / g.s[2] >= g.in[2]) continue;
        const int64_t k = (kd * g.k[1] + kh) * g.k[2] + kw;
        acc += cm[k * g.IN + ((td / g.s[0]) * g.in[1] + th / g.s[1]) * g.in[2] + tw / g.s[2]];
      }
    }
  }
  return acc;
}

// Pools: x [N, C, spatial...], the node's kernel_shape and ceil_mode.
Geo3 pool_geo(const Node& n, const Shape& x);
// Conv: x [N, C, spatial...], w [M, C / group, k...].
ConvPlan plan_conv(const Node& n, const Shape& x, const Shape& w);
// ConvTranspose: x [N, C, in...], w [C, M / group, k...]; g.in is X's spatial
// size, g.out Y's; cg = C / group, mg = M / group, kg = mg * KK (the columns of
// one group's product), path im2col, col_per_image M * KK * IN.
ConvPlan plan_conv_transpose(const Node& n, const Shape& x, const Shape& w);

}  // namespace mgi::cuda
