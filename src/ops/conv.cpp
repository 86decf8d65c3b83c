// Conv and ConvTranspose (one file, over 400 lines: they share the geometry,
// the im2col panels and the GEMM tiling; 1-D, 2-D, 3-D; groups; dilations; strides; pads and
// auto_pad; optional bias) on the packed-panel GEMM kernel (gemm_kernel.hpp).
//
// Conv, per group: Y[Mg, pixels] = W[Mg, Cg*k] x col[Cg*k, pixels]. The
// weight is the GEMM's A, read in its own row-major layout (the kernel takes A
// unpacked), and the im2col columns are written straight into the kernel's
// packed-panel layout, so the output lands in NCHW with no transpose. Work
// items are tiles of output pixels (of one image, or several small images
// side by side); threads take whole items. Each output element is one fma
// chain over (c, kd, kh, kw) in order from 0, then + bias, then the epilogue,
// whatever the tile, the batch or the thread count (the GEMM kernel's
// contract), so rows are bitwise independent of each other.
// Convs with few output channels per group (depthwise) run a direct loop with
// the same order per element instead: a GEMM of 1-2 rows wastes its tile.
//
// ConvTranspose, per image and group: col^T[pixels_in, Mg*k] = X^T[pixels_in, Cg]
// x W[Cg, Mg*k] with W packed once by the backend (group 1, constant W; else
// per call), then col2im adds each contribution to its output element in a
// fixed order (input pixel, then channel and kernel position), then the bias.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.hpp"
#include "gemm_kernel.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"
#include "spatial.hpp"
#include "unary.hpp"

namespace mgi {

namespace {

using cpu::PackedB;


std::vector<int64_t> kernel_dims(const Shape& w) { return std::vector<int64_t>(w.begin() + 2, w.end()); }

// Sizes `p` for a k x n product and aligns it; keeps its storage when large enough.
void shape_packed(PackedB& p, int64_t k, int64_t n) {
  p.k = k;
  p.n = n;
  const size_t need = static_cast<size_t>(p.panels() * k * cpu::kPanel) + 16;
  if (p.storage.size() < need) p.storage.assign(need, 0.0f);
  const auto addr = reinterpret_cast<uintptr_t>(p.storage.data());
  p.offset = ((64 - addr % 64) % 64) / sizeof(float);
}

struct ConvScratch {
  PackedB b;
  std::vector<float> c, a;
};
ConvScratch& scratch() {
  thread_local ConvScratch s;
  return s;
}

// Valid range [lo, hi) of t in [0, len) with 0 <= base + t * s < n.
inline void valid_range(int64_t base, int64_t s, int64_t n, int64_t len, int64_t& lo, int64_t& hi) {
  lo = base >= 0 ? 0 : (-base + s - 1) / s;
  hi = base >= n ? 0 : std::min(len, (n - 1 - base) / s + 1);
  if (lo > len) lo = len;
  if (hi < lo) hi = lo;
}

// im2col of `cols` output pixels, starting at pixel `col0` of image 0 of x
// (pixels run on into the following images), for channels [0, cg) of x
// (x points at the group's first channel; image stride img_stride), written
// into the packed panels of p (k = cg * KK rows, n = cols).
void im2col_packed(const float* x, int64_t img_stride, const Geo3& g, int64_t cg, int64_t col0, int64_t cols,
                   PackedB& p) {
  shape_packed(p, cg * g.KK, cols);
  const bool pointwise = g.KK == 1 && g.s[0] == 1 && g.s[1] == 1 && g.s[2] == 1 && g.pb[0] == 0 && g.pb[1] == 0 &&
                         g.pb[2] == 0 && g.OUT == g.IN;
  const int64_t ow_n = g.out[2];
  for (int64_t pn = 0; pn < p.panels(); ++pn) {
    float* dst = const_cast<float*>(p.panel(pn));
    const int64_t w = p.width(pn);
    const int64_t j_end = std::min(cols, (pn + 1) * cpu::kPanel);
    for (int64_t j = pn * cpu::kPanel; j < j_end;) {
      const int64_t t = col0 + j, img = t / g.OUT, pix = t % g.OUT;
      const float* xi = x + img * img_stride;
      const int64_t a = j - pn * cpu::kPanel;
      if (pointwise) {
        const int64_t len = std::min(j_end - j, g.OUT - pix);
        for (int64_t c = 0; c < cg; ++c)
          std::memcpy(dst + c * w + a, xi + c * g.IN + pix, static_cast<size_t>(len) * sizeof(float));
        j += len;
        continue;
      }
      const int64_t ow = pix % ow_n, oh = (pix / ow_n) % g.out[1], od = pix / (ow_n * g.out[1]);
      const int64_t len = std::min(j_end - j, ow_n - ow);
      float* drow = dst + a;
      for (int64_t c = 0; c < cg; ++c) {
        const float* xc = xi + c * g.IN;
        for (int64_t kd = 0; kd < g.k[0]; ++kd) {
          const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
          for (int64_t kh = 0; kh < g.k[1]; ++kh) {
            const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
            const bool row_in = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1];
            const float* xr = xc + (id * g.in[1] + ih) * g.in[2];
            for (int64_t kw = 0; kw < g.k[2]; ++kw, drow += w) {
              if (!row_in) {
                std::fill(drow, drow + len, 0.0f);
                continue;
              }
              const int64_t base = ow * g.s[2] - g.pb[2] + kw * g.d[2];
              int64_t lo, hi;
              valid_range(base, g.s[2], g.in[2], len, lo, hi);
              std::fill(drow, drow + lo, 0.0f);
              if (g.s[2] == 1) {
                std::memcpy(drow + lo, xr + base + lo, static_cast<size_t>(hi - lo) * sizeof(float));
              } else {
                const int64_t st = g.s[2];
                for (int64_t u = lo; u < hi; ++u) drow[u] = xr[base + u * st];
              }
              std::fill(drow + hi, drow + len, 0.0f);
            }
          }
        }
      }
      j += len;
    }
  }
}

// ---------------------------------------------------------------- Conv

void parse_conv(const OnnxNode& on, Node& n) {
  parse_spatial(on, n);
  n.group = on.get_int("group", 1);
  if (n.group < 1) on.fail("group " + std::to_string(n.group) + " must be positive");
}

void want_f32_inputs(const InferArgs& a) {
  for (size_t k = 0; k < a.count(); ++k) a.want_type(k, DType::f32);
}

void infer_conv(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  want_f32_inputs(a);
  const Shape& x = a.shape(0);
  const Shape& w = a.shape(1);
  const Node& n = a.node;
  if (x.size() < 3 || x.size() > 5) a.fail("input X has shape " + shape_str(x) + "; Conv supports 1-D, 2-D and 3-D [N, C, ...]");
  if (w.size() != x.size())
    a.fail("weight W has shape " + shape_str(w) + " but X has shape " + shape_str(x) + "; expected [M, C/group, k...]");
  if (x[1] % n.group != 0 || w[1] * n.group != x[1] || w[0] % n.group != 0)
    a.fail("X " + shape_str(x) + " and W " + shape_str(w) + " do not fit group " + std::to_string(n.group) +
           " (W must be [M, C/group, ...] with M divisible by group)");
  const std::vector<int64_t> kd = kernel_dims(w);
  if (!n.kernel_shape.empty() && n.kernel_shape != kd)
    a.fail("kernel_shape " + shape_str(n.kernel_shape) + " differs from W's " + shape_str(w));
  if (a.has(2) && (a.shape(2).size() != 1 || a.shape(2)[0] != w[0]))
    a.fail("bias B has shape " + shape_str(a.shape(2)) + "; expected [" + std::to_string(w[0]) + "]");
  const Spatial g = resolve_forward(a, x, kd, false);
  Shape y{x[0], w[0]};
  y.insert(y.end(), g.out.begin(), g.out.end());
  out[0] = {DType::f32, y};
}

// Output channels per group below this run the direct loop (depthwise and the like).
constexpr int64_t kDirectMaxChannels = 2;

// Direct conv: each output element one fma chain over (c, kd, kh, kw) in order
// (padding skipped), then + bias, then the epilogue; threads split (image, channel) planes.
void conv_direct(const KernelArgs& k, const Geo3& g, int64_t N, int64_t C, int64_t M, int64_t G) {
  const float* x = k.in[0].as<float>();
  const float* wt = k.in[1].as<float>();
  const float* bias = k.in.size() > 2 && k.in[2].present() ? k.in[2].as<float>() : nullptr;
  float* y = k.out[0].as<float>();
  const int64_t cg = C / G, mg = M / G, kg = cg * g.KK;
  const int64_t planes = N * M;
  const int threads = k.opt.threads;
  const std::vector<UnaryStep>& steps = k.node.epilogue;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) if (threads > 1 && planes > 1)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const int64_t img = pl / M, m = pl % M, grp = m / mg;
    const float* xg = x + (img * C + grp * cg) * g.IN;
    const float* wm = wt + m * kg;
    float* yp = y + pl * g.OUT;
    for (int64_t od = 0; od < g.out[0]; ++od)
      for (int64_t oh = 0; oh < g.out[1]; ++oh) {
        float* acc = yp + (od * g.out[1] + oh) * g.out[2];
        std::fill(acc, acc + g.out[2], 0.0f);
        const float* wq = wm;
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t kd = 0; kd < g.k[0]; ++kd) {
            const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
            for (int64_t kh = 0; kh < g.k[1]; ++kh) {
              const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
              const bool row_in = id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1];
              const float* xr = xg + c * g.IN + (id * g.in[1] + ih) * g.in[2];
              for (int64_t kw = 0; kw < g.k[2]; ++kw, ++wq) {
                if (!row_in) continue;
                const float wv = *wq;
                const int64_t base = -g.pb[2] + kw * g.d[2];
                int64_t lo, hi;
                valid_range(base, g.s[2], g.in[2], g.out[2], lo, hi);
                const int64_t st = g.s[2];
                if (st == 1)
                  for (int64_t u = lo; u < hi; ++u) acc[u] = std::fma(xr[base + u], wv, acc[u]);
                else
                  for (int64_t u = lo; u < hi; ++u) acc[u] = std::fma(xr[base + u * st], wv, acc[u]);
              }
            }
          }
        if (bias)
          for (int64_t u = 0; u < g.out[2]; ++u) acc[u] += bias[m];
        for (const UnaryStep& s : steps) cpu::apply_unary(s, acc, acc, g.out[2]);
      }
  }
}

// Output pixels per work item (a multiple of kPanel).
constexpr int64_t kTileCols = 256;
constexpr int64_t kMinTileCols = 64;

void cpu_conv(const KernelArgs& k) {
  const Node& n = k.node;
  const Shape& xs = *k.in[0].shape;
  const Shape& ws = *k.in[1].shape;
  const Spatial sp = spatial_of(n, xs, kernel_dims(ws), false);
  const Geo3 g = geo3(sp);
  const int64_t N = xs[0], C = xs[1], M = ws[0], G = n.group;
  const int64_t cg = C / G, mg = M / G, kg = cg * g.KK;
  if (N == 0 || M == 0 || g.OUT == 0) return;
  if (mg <= kDirectMaxChannels) return conv_direct(k, g, N, C, M, G);
  const float* x = k.in[0].as<float>();
  const float* wt = k.in[1].as<float>();
  const float* bias = k.in.size() > 2 && k.in[2].present() ? k.in[2].as<float>() : nullptr;
  float* y = k.out[0].as<float>();
  const int threads = std::max(1, k.opt.threads);

  // Work items: per group, tiles of `tc` pixels of one image, or runs of whole small images.
  int64_t tc = kTileCols;
  auto items_for = [&](int64_t t) {
    return g.OUT >= t ? G * N * ((g.OUT + t - 1) / t) : G * ((N + std::max<int64_t>(1, t / g.OUT) - 1) / std::max<int64_t>(1, t / g.OUT));
  };
  while (tc > kMinTileCols && items_for(tc) < threads) tc /= 2;
  const bool per_image = g.OUT >= tc;
  const int64_t tiles = per_image ? (g.OUT + tc - 1) / tc : 0;
  const int64_t ipt = per_image ? 1 : std::max<int64_t>(1, tc / g.OUT);  // images per item
  const int64_t per_group = per_image ? N * tiles : (N + ipt - 1) / ipt;
  const int64_t items = G * per_group;
  const bool outer = items >= threads && threads > 1;
  const int inner = outer ? 1 : threads;

  auto run_item = [&](int64_t it) {
    const int64_t grp = it / per_group, r = it % per_group;
    int64_t img, col0, cols, nimg;
    if (per_image) {
      img = r / tiles;
      col0 = (r % tiles) * tc;
      cols = std::min(tc, g.OUT - col0);
      nimg = 1;
    } else {
      img = r * ipt;
      nimg = std::min(ipt, N - img);
      col0 = 0;
      cols = nimg * g.OUT;
    }
    ConvScratch& s = scratch();
    im2col_packed(x + (img * C + grp * cg) * g.IN, C * g.IN, g, cg, col0, cols, s.b);
    cpu::GemmEpilogue ep;
    ep.steps = &n.epilogue;
    if (bias) ep.bias = bias + grp * mg, ep.sm = 1, ep.sn = 0;
    const float* a = wt + grp * mg * kg;
    if (nimg == 1) {
      float* c = y + (img * M + grp * mg) * g.OUT + col0;
      cpu::gemm_packed(mg, cols, kg, 1.0f, a, kg, s.b, c, g.OUT, ep, inner);
      return;
    }
    s.c.resize(static_cast<size_t>(mg * cols));
    cpu::gemm_packed(mg, cols, kg, 1.0f, a, kg, s.b, s.c.data(), cols, ep, inner);
    for (int64_t i = 0; i < nimg; ++i)
      for (int64_t m = 0; m < mg; ++m)
        std::memcpy(y + ((img + i) * M + grp * mg + m) * g.OUT, s.c.data() + m * cols + i * g.OUT,
                    static_cast<size_t>(g.OUT) * sizeof(float));
  };
  if (outer) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t it = 0; it < items; ++it) run_item(it);
  } else {
    for (int64_t it = 0; it < items; ++it) run_item(it);
  }
}

// ---------------------------------------------------------------- ConvTranspose

void parse_conv_transpose(const OnnxNode& on, Node& n) {
  parse_conv(on, n);
  n.output_padding = on.get_ints("output_padding");
  n.output_shape = on.get_ints("output_shape");
}

void infer_conv_transpose(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  want_f32_inputs(a);
  const Shape& x = a.shape(0);
  const Shape& w = a.shape(1);
  const Node& n = a.node;
  if (x.size() < 3 || x.size() > 5)
    a.fail("input X has shape " + shape_str(x) + "; ConvTranspose supports 1-D, 2-D and 3-D [N, C, ...]");
  if (w.size() != x.size() || w[0] != x[1] || x[1] % n.group != 0)
    a.fail("weight W has shape " + shape_str(w) + " but X has shape " + shape_str(x) + " and group " +
           std::to_string(n.group) + "; expected [C, M/group, k...] with C divisible by group");
  const std::vector<int64_t> kd = kernel_dims(w);
  if (!n.kernel_shape.empty() && n.kernel_shape != kd)
    a.fail("kernel_shape " + shape_str(n.kernel_shape) + " differs from W's " + shape_str(w));
  const int64_t M = w[1] * n.group;
  if (a.has(2) && (a.shape(2).size() != 1 || a.shape(2)[0] != M))
    a.fail("bias B has shape " + shape_str(a.shape(2)) + "; expected [" + std::to_string(M) + "]");
  const Spatial g = resolve_transpose(a, x, kd);
  Shape y{x[0], M};
  y.insert(y.end(), g.out.begin(), g.out.end());
  out[0] = {DType::f32, y};
}

void cpu_conv_transpose(const KernelArgs& k) {
  const Node& n = k.node;
  const Shape& xs = *k.in[0].shape;
  const Shape& ws = *k.in[1].shape;
  const Spatial sp = spatial_of_transpose(n, xs, kernel_dims(ws));
  // Geo3 of the transposed view: `in` is X's spatial size, `out` Y's.
  const Geo3 g = geo3(sp);
  const int64_t N = xs[0], C = xs[1], G = n.group, cg = C / G, mg = ws[1], M = mg * G;
  const int64_t ncol = mg * g.KK;  // columns of the product per group
  const float* x = k.in[0].as<float>();
  const float* wt = k.in[1].as<float>();
  const float* bias = k.in.size() > 2 && k.in[2].present() ? k.in[2].as<float>() : nullptr;
  float* y = k.out[0].as<float>();
  MGI_ASSERT(n.epilogue.empty(), "ConvTranspose with a fused epilogue");
  const int threads = std::max(1, k.opt.threads);
  // Packed weights per group: the backend's (group 1, constant W), else packed here once per call.
  std::vector<PackedB> own;
  std::vector<const PackedB*> packed(static_cast<size_t>(G), nullptr);
  if (G == 1 && k.opt.packed_b && k.opt.packed_b->k == cg && k.opt.packed_b->n == ncol) {
    packed[0] = k.opt.packed_b;
  } else {
    own.resize(static_cast<size_t>(G));
    for (int64_t grp = 0; grp < G; ++grp) {
      cpu::pack_b(wt + grp * cg * ncol, false, cg, ncol, own[static_cast<size_t>(grp)]);
      packed[static_cast<size_t>(grp)] = &own[static_cast<size_t>(grp)];
    }
  }
  const int64_t items = N * G;
  const bool outer = items >= threads && threads > 1;
  const int inner = outer ? 1 : threads;
  auto run_item = [&](int64_t it) {
    const int64_t img = it / G, grp = it % G;
    ConvScratch& s = scratch();
    // A = X_g^T [pixels_in, cg].
    s.a.resize(static_cast<size_t>(g.IN * cg));
    const float* xg = x + (img * C + grp * cg) * g.IN;
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t p = 0; p < g.IN; ++p) s.a[static_cast<size_t>(p * cg + c)] = xg[c * g.IN + p];
    s.c.resize(static_cast<size_t>(g.IN * ncol));
    cpu::gemm_packed(g.IN, ncol, cg, 1.0f, s.a.data(), cg, *packed[static_cast<size_t>(grp)], s.c.data(), ncol,
                     cpu::GemmEpilogue{}, inner);
    float* yg = y + (img * M + grp * mg) * g.OUT;
    std::fill(yg, yg + mg * g.OUT, 0.0f);
    // col2im: input pixel p, kernel position (kd, kh, kw) -> output (p * s - pb + k * d).
    for (int64_t p = 0; p < g.IN; ++p) {
      const int64_t iw = p % g.in[2], ih = (p / g.in[2]) % g.in[1], id = p / (g.in[2] * g.in[1]);
      const float* cp = s.c.data() + p * ncol;
      for (int64_t m = 0; m < mg; ++m) {
        float* ym = yg + m * g.OUT;
        const float* cm = cp + m * g.KK;
        for (int64_t kd = 0; kd < g.k[0]; ++kd) {
          const int64_t od = id * g.s[0] - g.pb[0] + kd * g.d[0];
          if (od < 0 || od >= g.out[0]) continue;
          for (int64_t kh = 0; kh < g.k[1]; ++kh) {
            const int64_t oh = ih * g.s[1] - g.pb[1] + kh * g.d[1];
            if (oh < 0 || oh >= g.out[1]) continue;
            float* yr = ym + (od * g.out[1] + oh) * g.out[2];
            const float* cr = cm + (kd * g.k[1] + kh) * g.k[2];
            for (int64_t kw = 0; kw < g.k[2]; ++kw) {
              const int64_t ow = iw * g.s[2] - g.pb[2] + kw * g.d[2];
              if (ow >= 0 && ow < g.out[2]) yr[ow] += cr[kw];
            }
          }
        }
      }
    }
    if (bias)
      for (int64_t m = 0; m < mg; ++m) {
        const float b = bias[grp * mg + m];
        float* ym = yg + m * g.OUT;
        for (int64_t q = 0; q < g.OUT; ++q) ym[q] += b;
      }
  };
  if (outer) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int64_t it = 0; it < items; ++it) run_item(it);
  } else {
    for (int64_t it = 0; it < items; ++it) run_item(it);
  }
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "Conv";
    d.since = 1;
    d.min_inputs = 2;
    d.max_inputs = 3;
    d.parse = parse_conv;
    d.infer = infer_conv;
    d.cpu = cpu_conv;
    d.types = "float32";
    d.notes = "1-D, 2-D, 3-D; group (depthwise), dilations, strides, pads, auto_pad; im2col + packed GEMM";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "ConvTranspose";
    d.since = 1;
    d.min_inputs = 2;
    d.max_inputs = 3;
    d.parse = parse_conv_transpose;
    d.infer = infer_conv_transpose;
    d.cpu = cpu_conv_transpose;
    d.types = "float32";
    d.notes = "1-D, 2-D, 3-D; group, dilations, strides, pads, auto_pad, output_padding, output_shape";
    r.add(std::move(d));
  }
}

}  // namespace mgi
