// Conv, ConvTranspose and the pools against direct double-precision loops
// written from the ONNX spec's formulas, and the row-independence contract
// of a Conv + Relu + MaxPool graph through the CPU backend.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "backend.hpp"
#include "cpu_backend.hpp"
#include "error.hpp"
#include "nn_ops_test_util.hpp"
#include "onnx_test_model.hpp"

namespace mgi {
namespace {

// ---------------------------------------------------------------- geometry of the references

struct Axis {
  int64_t in, k, s, d, pb, pe, out;
};

// Output size and pads of one axis per the ONNX formulas (Conv and pools).
Axis forward_axis(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, const std::string& auto_pad,
                  bool ceil_mode) {
  Axis a{in, k, s, d, pb, pe, 0};
  const int64_t dk = (k - 1) * d + 1;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    a.out = (in + s - 1) / s;
    const int64_t total = std::max<int64_t>(0, (a.out - 1) * s + dk - in);
    a.pb = auto_pad == "SAME_UPPER" ? total / 2 : (total + 1) / 2;
    a.pe = total - a.pb;
  } else if (auto_pad == "VALID") {
    a.pb = a.pe = 0;
    a.out = (in - dk) / s + 1;
  } else if (ceil_mode) {
    a.out = static_cast<int64_t>(std::ceil(double(in + pb + pe - dk) / double(s))) + 1;
    if ((a.out - 1) * s >= in + pb) --a.out;
  } else {
    a.out = (in + pb + pe - dk) / s + 1;
  }
  return a;
}

// Up to 3 spatial axes as 3 (leading axes of size 1).
std::vector<Axis> as3(std::vector<Axis> ax) {
  while (ax.size() < 3) ax.insert(ax.begin(), Axis{1, 1, 1, 1, 0, 0, 1});
  return ax;
}

struct ConvCase {
  Shape x;  // [N, C, spatial...]
  int64_t m = 4;
  std::vector<int64_t> k{}, s{}, d{}, pads{};
  int64_t group = 1;
  std::string auto_pad = "NOTSET";
  bool bias = true;
};

std::vector<Axis> conv_axes(const ConvCase& c) {
  const size_t nd = c.x.size() - 2;
  std::vector<Axis> ax;
  for (size_t i = 0; i < nd; ++i)
    ax.push_back(forward_axis(c.x[2 + i], c.k[i], c.s.empty() ? 1 : c.s[i], c.d.empty() ? 1 : c.d[i],
                              c.pads.empty() ? 0 : c.pads[i], c.pads.empty() ? 0 : c.pads[nd + i], c.auto_pad, false));
  return ax;
}

// y[n][m][o] = b[m] + sum over c, kernel taps inside the input of x * w.
std::vector<double> ref_conv(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, Shape& ys) {
  const std::vector<Axis> ax0 = conv_axes(c);
  ys = {c.x[0], c.m};
  for (const Axis& a : ax0) ys.push_back(a.out);
  const std::vector<Axis> ax = as3(ax0);
  const int64_t N = c.x[0], C = c.x[1], cg = C / c.group, mg = c.m / c.group;
  const int64_t IN = ax[0].in * ax[1].in * ax[2].in, OUT = ax[0].out * ax[1].out * ax[2].out;
  const int64_t KK = ax[0].k * ax[1].k * ax[2].k;
  std::vector<double> y(static_cast<size_t>(N * c.m * OUT), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < c.m; ++m)
      for (int64_t o0 = 0; o0 < ax[0].out; ++o0)
        for (int64_t o1 = 0; o1 < ax[1].out; ++o1)
          for (int64_t o2 = 0; o2 < ax[2].out; ++o2) {
            double acc = c.bias ? b[static_cast<size_t>(m)] : 0.0;
            const int64_t g = m / mg;
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t k0 = 0; k0 < ax[0].k; ++k0)
                for (int64_t k1 = 0; k1 < ax[1].k; ++k1)
                  for (int64_t k2 = 0; k2 < ax[2].k; ++k2) {
                    const int64_t i0 = o0 * ax[0].s - ax[0].pb + k0 * ax[0].d;
                    const int64_t i1 = o1 * ax[1].s - ax[1].pb + k1 * ax[1].d;
                    const int64_t i2 = o2 * ax[2].s - ax[2].pb + k2 * ax[2].d;
                    if (i0 < 0 || i0 >= ax[0].in || i1 < 0 || i1 >= ax[1].in || i2 < 0 || i2 >= ax[2].in) continue;
                    const double xv = x[static_cast<size_t>(((n * C + g * cg + ci) * ax[0].in + i0) * ax[1].in * ax[2].in +
                                                            i1 * ax[2].in + i2)];
                    const double wv = w[static_cast<size_t>((m * cg + ci) * KK + (k0 * ax[1].k + k1) * ax[2].k + k2)];
                    acc += xv * wv;
                  }
            y[static_cast<size_t>((n * c.m + m) * OUT + (o0 * ax[1].out + o1) * ax[2].out + o2)] = acc;
          }
  (void)IN;
  return y;
}

Node conv_node(const ConvCase& c) {
  Node n = op_node("Conv", c.bias ? 3 : 2, 17);
  n.strides = c.s;
  n.dilations = c.d;
  n.pads = c.pads;
  n.group = c.group;
  n.auto_pad = c.auto_pad;
  return n;
}

void check_conv(const ConvCase& c, Rng& rng, int threads = 1) {
  Shape ws{c.m, c.x[1] / c.group};
  ws.insert(ws.end(), c.k.begin(), c.k.end());
  const auto x = rng.uniform(c.x), w = rng.uniform(ws), b = rng.uniform({c.m});
  const Tensor tx = f32_tensor(c.x, x), tw = f32_tensor(ws, w), tb = f32_tensor({c.m}, b);
  Shape want_shape;
  const auto want = ref_conv(c, x, w, b, want_shape);
  const Node n = conv_node(c);
  std::vector<const Tensor*> ins{&tx, &tw};
  if (c.bias) ins.push_back(&tb);
  const OpResult r = run_op(n, ins, threads);
  SCOPED_TRACE("Conv x " + shape_str(c.x) + " w " + shape_str(ws) + " group " + std::to_string(c.group) + " auto_pad " +
               c.auto_pad + " threads " + std::to_string(threads));
  ASSERT_EQ(r.shape, want_shape);
  int64_t kg = shape_numel(ws) / c.m;
  expect_close(r.y, want, 1e-5, 1e-5 * std::sqrt(double(kg)));
}

TEST(ConvOp, TwoDimensionalVariants) {
  Rng rng;
  SEED_TRACE(rng);
  // pads asymmetric, strides, dilations, bias or not; sizes across the GEMM's tiles.
  check_conv({{2, 3, 9, 11}, 5, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}}, rng);
  check_conv({{2, 3, 9, 11}, 5, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 1, "NOTSET", false}, rng);
  check_conv({{1, 4, 10, 7}, 8, {3, 2}, {2, 1}, {1, 1}, {0, 2, 1, 0}}, rng);
  check_conv({{3, 5, 12, 12}, 9, {3, 3}, {2, 3}, {2, 2}, {2, 1, 3, 2}}, rng);
  check_conv({{2, 6, 7, 8}, 6, {5, 5}, {1, 1}, {1, 2}, {2, 2, 2, 2}}, rng);
  check_conv({{1, 7, 30, 21}, 33, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}}, rng);  // several 256-pixel tiles
  check_conv({{7, 3, 5, 5}, 10, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}}, rng);    // images side by side in a tile
  check_conv({{2, 16, 6, 6}, 40, {1, 1}, {}, {}, {}}, rng);                     // pointwise
  check_conv({{2, 16, 6, 6}, 12, {1, 1}, {2, 2}, {}, {}}, rng);                 // 1x1 stride 2
  check_conv({{1, 3, 4, 4}, 2, {1, 1}, {}, {}, {1, 0, 0, 1}}, rng);             // 1x1 with pads
}

TEST(ConvOp, GroupsAndDepthwise) {
  Rng rng;
  SEED_TRACE(rng);
  check_conv({{2, 6, 8, 9}, 9, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 3}, rng);    // 3 groups, 3 outputs each
  check_conv({{2, 8, 8, 9}, 16, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 2}, rng);   // 2 groups, GEMM path
  check_conv({{2, 8, 9, 9}, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 8}, rng);    // depthwise
  check_conv({{2, 8, 9, 9}, 8, {3, 3}, {2, 2}, {2, 2}, {2, 0, 1, 2}, 8}, rng);    // depthwise, stride, dilation
  check_conv({{1, 4, 10, 6}, 8, {5, 3}, {1, 2}, {1, 1}, {2, 1, 2, 1}, 4}, rng);   // multiplier 2
  check_conv({{1, 4, 6, 6}, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 4, "NOTSET", false}, rng);
}

TEST(ConvOp, OneAndThreeDimensional) {
  Rng rng;
  SEED_TRACE(rng);
  check_conv({{3, 4, 40}, 6, {5}, {2}, {3}, {4, 2}}, rng);
  check_conv({{2, 4, 300}, 10, {3}, {1}, {1}, {1, 1}}, rng);
  check_conv({{2, 6, 17}, 6, {3}, {1}, {1}, {1, 1}, 6}, rng);
  check_conv({{2, 3, 5, 6, 7}, 4, {3, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 1, 1, 2}}, rng);
  check_conv({{1, 4, 4, 5, 6}, 4, {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, 2}, rng);
}

TEST(ConvOp, AutoPad) {
  Rng rng;
  SEED_TRACE(rng);
  for (const char* ap : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    check_conv({{2, 3, 9, 10}, 4, {3, 4}, {2, 2}, {1, 1}, {}, 1, ap}, rng);
    check_conv({{2, 3, 8, 7}, 4, {2, 3}, {1, 3}, {2, 1}, {}, 1, ap}, rng);
    check_conv({{1, 2, 11}, 3, {4}, {3}, {1}, {}, 1, ap}, rng);
  }
}

TEST(ConvOp, BitwiseIndependentOfThreadsAndBatch) {
  Rng rng;
  SEED_TRACE(rng);
  for (const ConvCase& c : {ConvCase{{7, 6, 14, 13}, 12, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}},
                            ConvCase{{7, 6, 5, 5}, 16, {3, 3}, {2, 2}, {1, 1}, {1, 0, 1, 0}},
                            ConvCase{{7, 8, 20, 20}, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, 8},
                            ConvCase{{7, 16, 6, 6}, 32, {1, 1}, {}, {}, {}}}) {
    Shape ws{c.m, c.x[1] / c.group};
    ws.insert(ws.end(), c.k.begin(), c.k.end());
    const auto x = rng.uniform(c.x), w = rng.uniform(ws), b = rng.uniform({c.m});
    const Tensor tx = f32_tensor(c.x, x), tw = f32_tensor(ws, w), tb = f32_tensor({c.m}, b);
    const Node n = conv_node(c);
    const OpResult full = run_op(n, {&tx, &tw, &tb}, 1);
    EXPECT_TRUE(bitwise_equal(full.y, run_op(n, {&tx, &tw, &tb}, 2).y)) << "threads 2, x " << shape_str(c.x);
    EXPECT_TRUE(bitwise_equal(full.y, run_op(n, {&tx, &tw, &tb}, 5).y)) << "threads 5, x " << shape_str(c.x);
    const int64_t row_in = shape_numel(c.x) / c.x[0], row_out = shape_numel(full.shape) / c.x[0];
    for (int64_t i = 0; i < c.x[0]; ++i) {
      Shape one = c.x;
      one[0] = 1;
      const Tensor t1 = f32_tensor(one, std::vector<float>(x.begin() + i * row_in, x.begin() + (i + 1) * row_in));
      const OpResult r = run_op(n, {&t1, &tw, &tb}, 2);
      EXPECT_TRUE(bitwise_equal(r.y, std::vector<float>(full.y.begin() + i * row_out, full.y.begin() + (i + 1) * row_out)))
          << "row " << i << " alone, x " << shape_str(c.x);
    }
  }
}

TEST(ConvOp, FusedEpilogue) {
  Rng rng;
  SEED_TRACE(rng);
  for (int64_t group : {1, 4}) {
    ConvCase c{{2, 4, 9, 9}, 8, {3, 3}, {1, 1}, {1, 1}, {1, 1, 1, 1}, group};
    Shape ws{c.m, c.x[1] / group, 3, 3};
    const auto x = rng.uniform(c.x), w = rng.uniform(ws), b = rng.uniform({c.m});
    const Tensor tx = f32_tensor(c.x, x), tw = f32_tensor(ws, w), tb = f32_tensor({c.m}, b);
    Node n = conv_node(c);
    const OpResult plain = run_op(n, {&tx, &tw, &tb});
    n.epilogue.push_back(UnaryStep{UnaryFn::relu});
    const OpResult fused = run_op(n, {&tx, &tw, &tb});
    ASSERT_EQ(plain.y.size(), fused.y.size());
    for (size_t i = 0; i < plain.y.size(); ++i) ASSERT_EQ(fused.y[i], std::max(plain.y[i], 0.0f)) << i;
  }
}

TEST(ConvOp, RefusesBadShapes) {
  const Node n = op_node("Conv", 2);
  const Tensor x(DType::f32, {1, 4, 5, 5}), w(DType::f32, {6, 3, 3, 3}), w2(DType::f32, {6, 4, 7, 7});
  EXPECT_THROW(run_op(n, {&x, &w}), ModelError);   // channels
  EXPECT_THROW(run_op(n, {&x, &w2}), ModelError);  // kernel larger than the input
  Node g = op_node("Conv", 2);
  g.group = 3;
  const Tensor w3(DType::f32, {6, 1, 3, 3});
  EXPECT_THROW(run_op(g, {&x, &w3}), ModelError);  // 4 channels, 3 groups
}

// ---------------------------------------------------------------- ConvTranspose

struct ConvTCase {
  Shape x;
  int64_t m = 4;  // output channels
  std::vector<int64_t> k{}, s{}, d{}, pads{}, output_padding{}, output_shape{};
  int64_t group = 1;
  std::string auto_pad = "NOTSET";
};

// Per the spec: out = s (in - 1) + output_padding + (k - 1) d + 1 - pb - pe, or output_shape /
// SAME with total padding split (SAME_UPPER: extra at the end; otherwise at the begin).
std::vector<double> ref_conv_transpose(const ConvTCase& c, const std::vector<float>& x, const std::vector<float>& w,
                                       const std::vector<float>& b, Shape& ys) {
  const size_t nd = c.x.size() - 2;
  std::vector<Axis> ax;
  for (size_t i = 0; i < nd; ++i) {
    Axis a{c.x[2 + i], c.k[i], c.s.empty() ? 1 : c.s[i], c.d.empty() ? 1 : c.d[i], 0, 0, 0};
    const int64_t op = c.output_padding.empty() ? 0 : c.output_padding[i];
    const int64_t full = a.s * (a.in - 1) + op + (a.k - 1) * a.d + 1;
    if (!c.output_shape.empty() || c.auto_pad != "NOTSET") {
      a.out = !c.output_shape.empty() ? c.output_shape[i] : a.in * a.s;
      const int64_t total = full - a.out;
      a.pb = c.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      a.pe = total - a.pb;
    } else {
      a.pb = c.pads.empty() ? 0 : c.pads[i];
      a.pe = c.pads.empty() ? 0 : c.pads[nd + i];
      a.out = full - a.pb - a.pe;
    }
    ax.push_back(a);
  }
  ys = {c.x[0], c.m};
  for (const Axis& a : ax) ys.push_back(a.out);
  ax = as3(ax);
  const int64_t N = c.x[0], C = c.x[1], cg = C / c.group, mg = c.m / c.group;
  const int64_t OUT = ax[0].out * ax[1].out * ax[2].out, KK = ax[0].k * ax[1].k * ax[2].k;
  std::vector<double> y(static_cast<size_t>(N * c.m * OUT), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < C; ++ci) {
      const int64_t g = ci / cg;
      for (int64_t i0 = 0; i0 < ax[0].in; ++i0)
        for (int64_t i1 = 0; i1 < ax[1].in; ++i1)
          for (int64_t i2 = 0; i2 < ax[2].in; ++i2) {
            const double xv = x[static_cast<size_t>(((n * C + ci) * ax[0].in + i0) * ax[1].in * ax[2].in + i1 * ax[2].in + i2)];
            for (int64_t m = 0; m < mg; ++m)
              for (int64_t k0 = 0; k0 < ax[0].k; ++k0)
                for (int64_t k1 = 0; k1 < ax[1].k; ++k1)
                  for (int64_t k2 = 0; k2 < ax[2].k; ++k2) {
                    const int64_t o0 = i0 * ax[0].s - ax[0].pb + k0 * ax[0].d;
                    const int64_t o1 = i1 * ax[1].s - ax[1].pb + k1 * ax[1].d;
                    const int64_t o2 = i2 * ax[2].s - ax[2].pb + k2 * ax[2].d;
                    if (o0 < 0 || o0 >= ax[0].out || o1 < 0 || o1 >= ax[1].out || o2 < 0 || o2 >= ax[2].out) continue;
                    const double wv = w[static_cast<size_t>((ci * mg + m) * KK + (k0 * ax[1].k + k1) * ax[2].k + k2)];
                    y[static_cast<size_t>((n * c.m + g * mg + m) * OUT + (o0 * ax[1].out + o1) * ax[2].out + o2)] += xv * wv;
                  }
          }
    }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < c.m; ++m)
      for (int64_t q = 0; q < OUT; ++q) y[static_cast<size_t>((n * c.m + m) * OUT + q)] += b[static_cast<size_t>(m)];
  return y;
}

void check_conv_transpose(const ConvTCase& c, Rng& rng, int threads = 1) {
  Shape ws{c.x[1], c.m / c.group};
  ws.insert(ws.end(), c.k.begin(), c.k.end());
  const auto x = rng.uniform(c.x), w = rng.uniform(ws), b = rng.uniform({c.m});
  const Tensor tx = f32_tensor(c.x, x), tw = f32_tensor(ws, w), tb = f32_tensor({c.m}, b);
  Shape want_shape;
  const auto want = ref_conv_transpose(c, x, w, b, want_shape);
  Node n = op_node("ConvTranspose", 3, 17);
  n.strides = c.s;
  n.dilations = c.d;
  n.pads = c.pads;
  n.group = c.group;
  n.auto_pad = c.auto_pad;
  n.output_padding = c.output_padding;
  n.output_shape = c.output_shape;
  const OpResult r = run_op(n, {&tx, &tw, &tb}, threads);
  SCOPED_TRACE("ConvTranspose x " + shape_str(c.x) + " w " + shape_str(ws) + " auto_pad " + c.auto_pad);
  ASSERT_EQ(r.shape, want_shape);
  expect_close(r.y, want, 1e-5, 1e-5 * std::sqrt(double(shape_numel(ws))));
}

TEST(ConvTransposeOp, Variants) {
  Rng rng;
  SEED_TRACE(rng);
  check_conv_transpose({{2, 3, 5, 6}, 4, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}}, rng);
  check_conv_transpose({{2, 3, 5, 6}, 4, {3, 3}, {2, 2}, {1, 1}, {1, 0, 0, 1}, {1, 1}}, rng);  // output_padding
  check_conv_transpose({{1, 4, 4, 5}, 6, {2, 2}, {2, 2}, {}, {}}, rng);                          // UNet-style 2x
  check_conv_transpose({{2, 4, 5, 5}, 6, {3, 2}, {1, 2}, {2, 1}, {0, 1, 2, 0}}, rng);             // dilations
  check_conv_transpose({{2, 4, 5, 5}, 6, {3, 3}, {2, 2}, {1, 1}, {}, {}, {}, 2}, rng);            // groups
  check_conv_transpose({{2, 4, 6, 6}, 4, {3, 3}, {2, 2}, {1, 1}, {}, {}, {}, 4}, rng);            // depthwise
  check_conv_transpose({{2, 3, 5, 6}, 4, {3, 3}, {2, 2}, {1, 1}, {}, {}, {10, 12}}, rng);         // output_shape
  check_conv_transpose({{2, 3, 5, 6}, 4, {3, 3}, {2, 2}, {1, 1}, {}, {}, {9, 11}}, rng);          // odd total pad
  check_conv_transpose({{2, 3, 5, 6}, 4, {3, 3}, {2, 2}, {1, 1}, {}, {}, {9, 11}, 1, "SAME_UPPER"}, rng);
  check_conv_transpose({{2, 3, 5, 6}, 4, {4, 3}, {2, 3}, {1, 1}, {}, {}, {}, 1, "SAME_UPPER"}, rng);
  check_conv_transpose({{2, 3, 5, 6}, 4, {4, 3}, {2, 3}, {1, 1}, {}, {}, {}, 1, "SAME_LOWER"}, rng);
  check_conv_transpose({{3, 4, 9}, 5, {4}, {3}, {1}, {1, 2}, {2}}, rng);                           // 1-D
  check_conv_transpose({{1, 2, 3, 4, 3}, 3, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {0, 1, 0, 1, 0, 1}}, rng);  // 3-D
  check_conv_transpose({{2, 3, 5, 6}, 4, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}}, rng, 2);
}

// ---------------------------------------------------------------- pools

struct PoolCase {
  Shape x;
  std::vector<int64_t> k{}, s{}, d{}, pads{};
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false, include_pad = false;
};

enum class Kind { max, avg, lp };

std::vector<double> ref_pool(Kind kind, const PoolCase& c, const std::vector<float>& x, Shape& ys, int64_t p = 2) {
  const size_t nd = c.x.size() - 2;
  std::vector<Axis> ax;
  for (size_t i = 0; i < nd; ++i)
    ax.push_back(forward_axis(c.x[2 + i], c.k[i], c.s.empty() ? 1 : c.s[i], c.d.empty() ? 1 : c.d[i],
                              c.pads.empty() ? 0 : c.pads[i], c.pads.empty() ? 0 : c.pads[nd + i], c.auto_pad,
                              c.ceil_mode));
  ys = {c.x[0], c.x[1]};
  for (const Axis& a : ax) ys.push_back(a.out);
  ax = as3(ax);
  const int64_t planes = c.x[0] * c.x[1];
  const int64_t IN = ax[0].in * ax[1].in * ax[2].in, OUT = ax[0].out * ax[1].out * ax[2].out;
  std::vector<double> y(static_cast<size_t>(planes * OUT));
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t o0 = 0; o0 < ax[0].out; ++o0)
      for (int64_t o1 = 0; o1 < ax[1].out; ++o1)
        for (int64_t o2 = 0; o2 < ax[2].out; ++o2) {
          double acc = kind == Kind::max ? -INFINITY : 0.0;
          int64_t inside = 0, padded = 0;
          for (int64_t k0 = 0; k0 < ax[0].k; ++k0)
            for (int64_t k1 = 0; k1 < ax[1].k; ++k1)
              for (int64_t k2 = 0; k2 < ax[2].k; ++k2) {
                const int64_t o[3] = {o0, o1, o2}, kk[3] = {k0, k1, k2};
                bool in = true, in_pad = true;
                int64_t idx[3];
                for (int i = 0; i < 3; ++i) {
                  idx[i] = o[i] * ax[i].s - ax[i].pb + kk[i] * ax[i].d;
                  in = in && idx[i] >= 0 && idx[i] < ax[i].in;
                  in_pad = in_pad && idx[i] >= -ax[i].pb && idx[i] < ax[i].in + ax[i].pe;
                }
                padded += in_pad;
                if (!in) continue;
                ++inside;
                const double v = x[static_cast<size_t>(pl * IN + (idx[0] * ax[1].in + idx[1]) * ax[2].in + idx[2])];
                if (kind == Kind::max) acc = std::max(acc, v);
                else if (kind == Kind::avg) acc += v;
                else acc += std::pow(std::fabs(v), double(p));
              }
          double r = acc;
          if (kind == Kind::avg) r = acc / double(c.include_pad ? padded : inside);
          if (kind == Kind::lp) r = std::pow(acc, 1.0 / double(p));
          y[static_cast<size_t>(pl * OUT + (o0 * ax[1].out + o1) * ax[2].out + o2)] = r;
        }
  return y;
}

void check_pool(Kind kind, const PoolCase& c, Rng& rng, int threads = 1) {
  const auto x = rng.uniform(c.x);
  const Tensor tx = f32_tensor(c.x, x);
  Shape ys;
  const auto want = ref_pool(kind, c, x, ys);
  Node n = op_node(kind == Kind::max ? "MaxPool" : kind == Kind::avg ? "AveragePool" : "LpPool", 1, 19);
  n.kernel_shape = c.k;
  n.strides = c.s;
  n.dilations = c.d;
  n.pads = c.pads;
  n.auto_pad = c.auto_pad;
  n.ceil_mode = c.ceil_mode;
  n.count_include_pad = c.include_pad;
  const OpResult r = run_op(n, {&tx}, threads);
  SCOPED_TRACE(std::string(kind == Kind::max ? "MaxPool" : kind == Kind::avg ? "AveragePool" : "LpPool") + " x " +
               shape_str(c.x) + " kernel " + shape_str(c.k) + " auto_pad " + c.auto_pad + " ceil " +
               std::to_string(c.ceil_mode) + " include_pad " + std::to_string(c.include_pad));
  ASSERT_EQ(r.shape, ys);
  expect_close(r.y, want, 1e-5, 1e-6);
}

TEST(PoolOps, MaxAverageLp) {
  Rng rng;
  SEED_TRACE(rng);
  for (Kind kind : {Kind::max, Kind::avg, Kind::lp})
    for (bool ceil_mode : {false, true})
      for (bool include_pad : {false, true}) {
        if (kind != Kind::avg && include_pad) continue;
        check_pool(kind, {{2, 3, 9, 10}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}, "NOTSET", ceil_mode, include_pad}, rng);
        check_pool(kind, {{2, 3, 8, 11}, {3, 2}, {2, 3}, {}, {0, 1, 2, 0}, "NOTSET", ceil_mode, include_pad}, rng);
        check_pool(kind, {{1, 2, 10, 9}, {2, 3}, {3, 2}, {2, 2}, {1, 0, 1, 1}, "NOTSET", ceil_mode, include_pad}, rng);
        check_pool(kind, {{2, 2, 13}, {4}, {3}, {}, {1, 2}, "NOTSET", ceil_mode, include_pad}, rng);
        check_pool(kind, {{1, 2, 5, 6, 7}, {2, 3, 2}, {2, 2, 3}, {}, {1, 1, 0, 0, 1, 1}, "NOTSET", ceil_mode, include_pad},
                   rng);
      }
  for (const char* ap : {"SAME_UPPER", "SAME_LOWER", "VALID"}) {
    check_pool(Kind::max, {{2, 3, 9, 10}, {3, 3}, {2, 2}, {}, {}, ap}, rng);
    check_pool(Kind::avg, {{2, 3, 9, 10}, {3, 4}, {2, 3}, {}, {}, ap}, rng);
    check_pool(Kind::avg, {{2, 3, 9, 10}, {3, 4}, {2, 3}, {}, {}, ap, false, true}, rng);
  }
  check_pool(Kind::max, {{3, 16, 56, 56}, {3, 3}, {2, 2}, {}, {1, 1, 1, 1}}, rng, 2);  // ResNet stem, threads
}

TEST(PoolOps, GlobalPools) {
  Rng rng;
  SEED_TRACE(rng);
  for (const Shape& s : {Shape{2, 3, 7, 7}, Shape{1, 5, 13}, Shape{2, 2, 3, 4, 5}}) {
    const auto x = rng.uniform(s);
    const Tensor tx = f32_tensor(s, x);
    const int64_t planes = s[0] * s[1], size = shape_numel(s) / planes;
    std::vector<double> mean(static_cast<size_t>(planes), 0.0), mx(static_cast<size_t>(planes), -INFINITY);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t i = 0; i < size; ++i) {
        mean[static_cast<size_t>(p)] += x[static_cast<size_t>(p * size + i)] / double(size);
        mx[static_cast<size_t>(p)] = std::max<double>(mx[static_cast<size_t>(p)], x[static_cast<size_t>(p * size + i)]);
      }
    const OpResult a = run_op(op_node("GlobalAveragePool"), {&tx});
    const OpResult m = run_op(op_node("GlobalMaxPool"), {&tx});
    Shape want = s;
    std::fill(want.begin() + 2, want.end(), 1);
    EXPECT_EQ(a.shape, want);
    expect_close(a.y, mean, 1e-5, 1e-6);
    expect_close(m.y, mx, 0, 0);
  }
}

// ---------------------------------------------------------------- through the backend

// x [N, 3, 12, 12] -> Conv 3x3 (8, bias) -> Relu -> MaxPool 3x3 s2 p1 -> Conv 1x1 (16) ->
// ConvTranspose 2x2 s2 (4; packed by the backend) -> AveragePool 2x2 -> GlobalAveragePool.
test::OnnxModel cnn_model(Rng& rng) {
  test::OnnxModel m(17);
  m.input("x", {-1, 3, 12, 12});
  m.init("w1", {8, 3, 3, 3}, rng.uniform({8, 3, 3, 3}));
  m.init("b1", {8}, rng.uniform({8}));
  m.init("w2", {16, 8, 1, 1}, rng.uniform({16, 8, 1, 1}));
  m.init("w3", {16, 4, 2, 2}, rng.uniform({16, 4, 2, 2}));
  m.init("b3", {4}, rng.uniform({4}));
  auto* c1 = m.node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  test::OnnxModel::attr_ints(c1, "pads", {1, 1, 1, 1});
  m.node("Relu", {"c1"}, {"r1"}, "relu1");
  auto* p1 = m.node("MaxPool", {"r1"}, {"p1"}, "pool1");
  test::OnnxModel::attr_ints(p1, "kernel_shape", {3, 3});
  test::OnnxModel::attr_ints(p1, "strides", {2, 2});
  test::OnnxModel::attr_ints(p1, "pads", {1, 1, 1, 1});
  m.node("Conv", {"p1", "w2"}, {"c2"}, "conv2");
  auto* t = m.node("ConvTranspose", {"c2", "w3", "b3"}, {"t"}, "up");
  test::OnnxModel::attr_ints(t, "strides", {2, 2});
  auto* a = m.node("AveragePool", {"t"}, {"a"}, "avg");
  test::OnnxModel::attr_ints(a, "kernel_shape", {2, 2});
  m.node("GlobalAveragePool", {"a"}, {"g"}, "gap");
  m.node("Flatten", {"g"}, {"y"}, "flat");
  m.output("y");
  return m;
}

TEST(ConvPoolBackend, RowsBitwiseIndependentOfBatchAndThreads) {
  Rng rng;
  SEED_TRACE(rng);
  const Graph g = cnn_model(rng).load("cnn.onnx");
  const Shape row{3, 12, 12};
  const int64_t rows = 7, in_row = shape_numel(row), out_row = 4;
  const auto x = rng.uniform({rows, 3, 12, 12});
  auto run = [&](int64_t batch, int threads) {
    auto be = make_cpu_backend(threads);
    be->prepare(g, {row}, batch);
    std::vector<float> y(static_cast<size_t>(rows * out_row));
    for (int64_t r0 = 0; r0 < rows; r0 += batch) {
      const int64_t n = std::min(batch, rows - r0);
      be->run(n, {x.data() + r0 * in_row}, {y.data() + r0 * out_row});
    }
    return y;
  };
  const auto ref = run(7, 1);
  EXPECT_TRUE(bitwise_equal(ref, run(1, 1))) << "batch 1 vs 7";
  EXPECT_TRUE(bitwise_equal(ref, run(7, 2))) << "threads 2 vs 1";
  EXPECT_TRUE(bitwise_equal(ref, run(1, 2))) << "batch 1, threads 2";
  EXPECT_TRUE(bitwise_equal(ref, run(3, 2))) << "batch 3, threads 2";
  // The same graph node by node (weights packed per call) gives the same bits.
  const Tensor tx = f32_tensor({rows, 3, 12, 12}, x);
  std::vector<Tensor> v(g.values.size());
  std::vector<const Tensor*> val(g.values.size(), nullptr);
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].is_constant) val[i] = &g.values[i].data;
  val[static_cast<size_t>(g.inputs[0])] = &tx;
  for (const Node& n : g.nodes) {
    std::vector<const Tensor*> ins;
    for (int id : n.inputs) ins.push_back(id >= 0 ? val[static_cast<size_t>(id)] : nullptr);
    std::vector<Tensor> outs = run_cpu_node(n, ins, "cnn.onnx");
    v[static_cast<size_t>(n.outputs[0])] = std::move(outs[0]);
    val[static_cast<size_t>(n.outputs[0])] = &v[static_cast<size_t>(n.outputs[0])];
  }
  const Tensor& y = *val[static_cast<size_t>(g.outputs[0])];
  EXPECT_TRUE(bitwise_equal(ref, std::vector<float>(y.data<float>(), y.data<float>() + y.numel())))
      << "backend vs node by node";
}

}  // namespace
}  // namespace mgi
