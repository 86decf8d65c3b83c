// Pooling: MaxPool, AveragePool, LpPool (1-D, 2-D, 3-D; pads, auto_pad,
// strides, dilations, ceil_mode; AveragePool count_include_pad) and
// GlobalAveragePool / GlobalMaxPool. float32. Each output element is reduced
// over its window in a fixed order (kd, kh, kw), so threads, which split
// (image, channel) planes, never change a result.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"
#include "spatial.hpp"

namespace mgi {

namespace {

enum class PoolKind { max, avg, lp };

void parse_pool(const OnnxNode& on, Node& n) {
  parse_spatial(on, n);
  n.ceil_mode = on.get_int("ceil_mode", 0) != 0;
  n.count_include_pad = on.get_int("count_include_pad", 0) != 0;
  n.lp_p = on.get_int("p", 2);
  if (on.op_type() == "LpPool" && n.lp_p < 1) on.fail("p " + std::to_string(n.lp_p) + " must be positive");
}

void infer_pool(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  a.want_type(0, DType::f32);
  const Shape& x = a.shape(0);
  if (x.size() < 3 || x.size() > 5) a.fail("input X has shape " + shape_str(x) + "; expected [N, C, D1, ...] (1-D to 3-D)");
  if (a.node.kernel_shape.empty()) a.fail("attribute 'kernel_shape' is required");
  const Spatial g = resolve_forward(a, x, a.node.kernel_shape, a.node.ceil_mode);
  Shape y{x[0], x[1]};
  y.insert(y.end(), g.out.begin(), g.out.end());
  out[0] = {DType::f32, y};
}

template <PoolKind K>
void pool_kernel(const KernelArgs& k) {
  const Node& n = k.node;
  const Shape& xs = *k.in[0].shape;
  const Spatial sp = spatial_of(n, xs, n.kernel_shape, n.ceil_mode);
  // As 3-D, leading axes of size 1.
  int64_t in[3], out[3], kk[3], s[3], d[3], pb[3], pe[3];
  const size_t lead = 3 - sp.nd;
  for (size_t i = 0; i < 3; ++i) {
    const bool real = i >= lead;
    const size_t j = real ? i - lead : 0;
    in[i] = real ? sp.in[j] : 1;
    out[i] = real ? sp.out[j] : 1;
    kk[i] = real ? sp.k[j] : 1;
    s[i] = real ? sp.s[j] : 1;
    d[i] = real ? sp.d[j] : 1;
    pb[i] = real ? sp.pb[j] : 0;
    pe[i] = real ? sp.pe[j] : 0;
  }
  const int64_t IN = in[0] * in[1] * in[2], OUT = out[0] * out[1] * out[2];
  const int64_t planes = xs[0] * xs[1];
  const float* x = k.in[0].as<float>();
  float* y = k.out[0].as<float>();
  const bool include_pad = n.count_include_pad;
  const float p = static_cast<float>(n.lp_p);
  const int threads = k.opt.threads;
  // Per axis and output index, computed once (the same for every plane): taps inside the
  // input [lo, hi), and (count_include_pad) the number of taps inside input + pads.
  std::vector<int64_t> tab[3];
  for (int i = 0; i < 3; ++i) {
    tab[i].resize(static_cast<size_t>(3 * out[i]));
    for (int64_t o = 0; o < out[i]; ++o) {
      const int64_t start = o * s[i] - pb[i];
      int64_t lo = start >= 0 ? 0 : (-start + d[i] - 1) / d[i];
      int64_t hi = start >= in[i] ? 0 : std::min(kk[i], (in[i] - 1 - start) / d[i] + 1);
      if (hi < lo) hi = lo;
      // Taps within [-pb, in + pe): the window part that is input or explicit padding.
      const int64_t plo = start >= -pb[i] ? 0 : (-pb[i] - start + d[i] - 1) / d[i];
      const int64_t phi = std::min(kk[i], (in[i] + pe[i] - 1 - start) / d[i] + 1);
      tab[i][static_cast<size_t>(3 * o)] = lo;
      tab[i][static_cast<size_t>(3 * o + 1)] = hi;
      tab[i][static_cast<size_t>(3 * o + 2)] = std::max<int64_t>(0, phi - plo);
    }
  }
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && planes * OUT > 16384)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * IN;
    float* yp = y + pl * OUT;
    for (int64_t od = 0; od < out[0]; ++od)
      for (int64_t oh = 0; oh < out[1]; ++oh)
        for (int64_t ow = 0; ow < out[2]; ++ow) {
          const int64_t o[3] = {od, oh, ow};
          int64_t lo[3], hi[3], padded = 1;
          for (int i = 0; i < 3; ++i) {
            const int64_t* t = tab[i].data() + 3 * o[i];
            lo[i] = t[0];
            hi[i] = t[1];
            padded *= t[2];
          }
          float acc = K == PoolKind::max ? -std::numeric_limits<float>::infinity() : 0.0f;
          int64_t count = 0;
          for (int64_t a = lo[0]; a < hi[0]; ++a) {
            const int64_t id = od * s[0] - pb[0] + a * d[0];
            for (int64_t b = lo[1]; b < hi[1]; ++b) {
              const int64_t ih = oh * s[1] - pb[1] + b * d[1];
              const float* xr = xp + (id * in[1] + ih) * in[2] + ow * s[2] - pb[2];
              for (int64_t c = lo[2]; c < hi[2]; ++c) {
                const float v = xr[c * d[2]];
                if (K == PoolKind::max) acc = v > acc || std::isnan(v) ? v : acc;
                else if (K == PoolKind::avg) acc += v;
                else acc += std::pow(std::fabs(v), p);
              }
              count += hi[2] - lo[2];
            }
          }
          const int64_t e = (od * out[1] + oh) * out[2] + ow;
          if (K == PoolKind::max) yp[e] = acc;
          else if (K == PoolKind::avg) {
            const int64_t div = include_pad ? padded : count;
            yp[e] = div > 0 ? acc / static_cast<float>(div) : 0.0f;
          } else yp[e] = std::pow(acc, 1.0f / p);
        }
  }
}

// ---------------------------------------------------------------- global pools

void infer_global(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  a.want_type(0, DType::f32);
  const Shape& x = a.shape(0);
  if (x.size() < 3) a.fail("input X has shape " + shape_str(x) + "; expected [N, C, D1, ...]");
  Shape y = x;
  std::fill(y.begin() + 2, y.end(), 1);
  out[0] = {DType::f32, y};
}

template <bool Max>
void global_kernel(const KernelArgs& k) {
  const Shape& xs = *k.in[0].shape;
  const int64_t planes = xs[0] * xs[1];
  int64_t size = 1;
  for (size_t i = 2; i < xs.size(); ++i) size *= xs[i];
  const float* x = k.in[0].as<float>();
  float* y = k.out[0].as<float>();
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && planes * size > 65536)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * size;
    if (Max) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < size; ++i) m = xp[i] > m || std::isnan(xp[i]) ? xp[i] : m;
      y[pl] = m;
    } else {
      // Eight interleaved partial sums (a fixed order), added pairwise at the end.
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 8 <= size; i += 8)
        for (int j = 0; j < 8; ++j) part[j] += xp[i + j];
      for (int j = 0; i < size; ++i, ++j) part[j] += xp[i];
      const float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      y[pl] = size > 0 ? sum / static_cast<float>(size) : 0.0f;
    }
  }
}

void add_pool(OpRegistry& r, const char* name, CpuKernel kernel, const char* notes) {
  OpDef d;
  d.name = name;
  d.since = 1;
  d.min_inputs = d.max_inputs = 1;
  d.parse = parse_pool;
  d.infer = infer_pool;
  d.cpu = kernel;
  d.types = "float32";
  d.notes = notes;
  r.add(std::move(d));
}

}  // namespace

void register_pool_ops(OpRegistry& r) {
  add_pool(r, "MaxPool", pool_kernel<PoolKind::max>,
           "1-D to 3-D; pads, auto_pad, strides, dilations, ceil_mode; the Indices output is refused if used");
  add_pool(r, "AveragePool", pool_kernel<PoolKind::avg>,
           "1-D to 3-D; pads, auto_pad, strides, dilations, ceil_mode, count_include_pad");
  add_pool(r, "LpPool", pool_kernel<PoolKind::lp>, "1-D to 3-D; integer p; pads count as zeros");
  for (const char* name : {"GlobalAveragePool", "GlobalMaxPool"}) {
    OpDef d;
    d.name = name;
    d.since = 1;
    d.infer = infer_global;
    d.cpu = std::string(name) == "GlobalMaxPool" ? global_kernel<true> : global_kernel<false>;
    d.types = "float32";
    d.notes = "any spatial rank";
    r.add(std::move(d));
  }
}

}  // namespace mgi
