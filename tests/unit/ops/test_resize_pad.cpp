// Resize / Upsample against a double-precision reference written from the
// ONNX spec's formulas (every mode x every coordinate transformation), Pad in
// each mode, DepthToSpace and SpaceToDepth against index loops.
#include <gtest/gtest.h>

#include <cmath>

#include "error.hpp"
#include "nn_ops_test_util.hpp"

namespace mgi {
namespace {

// ---------------------------------------------------------------- Resize reference

struct ResizeSpec {
  std::string mode = "nearest", coord = "half_pixel", nearest = "round_prefer_floor";
  double a = -0.75;
  bool exclude = false;
  double extrap = 0.0;
};

// Coordinates in float, in the spec's order of operations (scales are float), so rounding
// ties fall exactly as in the kernel; weights and sums in double.
double orig(const ResizeSpec& r, float x, float scale, int64_t in, int64_t out, float rs, float re) {
  const float fi = float(in), fo = float(out);
  if (r.coord == "half_pixel") return (x + 0.5f) / scale - 0.5f;
  if (r.coord == "half_pixel_symmetric") {
    const float adj = fo / (scale * fi), center = fi / 2;
    return center * (1 - adj) + (x + 0.5f) / scale - 0.5f;
  }
  if (r.coord == "pytorch_half_pixel") return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
  if (r.coord == "align_corners") return out == 1 ? 0.0f : x * (fi - 1) / (fo - 1);
  if (r.coord == "asymmetric") return x / scale;
  if (r.coord == "tf_half_pixel_for_nn") return (x + 0.5f) / scale;
  return out > 1 ? rs * (fi - 1) + x * (re - rs) * (fi - 1) / (fo - 1) : 0.5f * (rs + re) * (fi - 1);
}

// Per output index of one axis: (index, weight) taps; empty = extrapolate.
std::vector<std::pair<int64_t, double>> taps(const ResizeSpec& r, int64_t o, double scale, int64_t in, int64_t out,
                                             double rs, double re) {
  const double xo = orig(r, float(o), float(scale), in, out, float(rs), float(re));
  if (r.coord == "tf_crop_and_resize" && (xo < 0 || xo > double(in - 1))) return {};
  auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
  if (r.mode == "nearest") {
    double v;
    if (r.nearest == "floor") v = std::floor(xo);
    else if (r.nearest == "ceil") v = std::ceil(xo);
    else if (xo - std::floor(xo) == 0.5) v = r.nearest == "round_prefer_ceil" ? std::ceil(xo) : std::floor(xo);
    else v = std::round(xo);
    return {{clamp(int64_t(v)), 1.0}};
  }
  if (r.mode == "linear") {
    const double xc = std::min(std::max(xo, 0.0), double(in - 1));
    const int64_t i0 = int64_t(std::floor(xc));
    const double f = xc - double(i0);
    return {{i0, 1 - f}, {std::min(i0 + 1, in - 1), f}};
  }
  const double fl = std::floor(xo), t = xo - fl, A = r.a;
  auto w = [&](double d) {
    d = std::fabs(d);
    if (d <= 1) return ((A + 2) * d - (A + 3)) * d * d + 1;
    if (d < 2) return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
    return 0.0;
  };
  std::vector<std::pair<int64_t, double>> v;
  double total = 0;
  for (int j = -1; j <= 2; ++j) {
    const int64_t i = int64_t(fl) + j;
    double wt = w(t - j);
    if (r.exclude && (i < 0 || i >= in)) wt = 0;
    total += wt;
    v.push_back({clamp(i), wt});
  }
  if (r.exclude)
    for (auto& p : v) p.second /= total;
  return v;
}

// x [N, C, H, W] to [N, C, oh, ow]; every axis goes through the transformation (N and C
// with scale 1, as the spec reads: tf_half_pixel_for_nn moves them too).
std::vector<double> ref_resize(const ResizeSpec& r, const Shape& xs, const std::vector<float>& x, int64_t oh, int64_t ow,
                               double sh, double sw, const std::vector<double>& roi) {
  const Shape ys{xs[0], xs[1], oh, ow};
  const double sc[4] = {1, 1, sh, sw};
  std::vector<std::vector<std::vector<std::pair<int64_t, double>>>> t(4);
  for (size_t a = 0; a < 4; ++a)
    for (int64_t o = 0; o < ys[a]; ++o) t[a].push_back(taps(r, o, sc[a], xs[a], ys[a], roi[a], roi[4 + a]));
  std::vector<double> y(static_cast<size_t>(shape_numel(ys)));
  for (int64_t e = 0; e < shape_numel(ys); ++e) {
    const auto idx = unravel(e, ys);
    const auto &t0 = t[0][size_t(idx[0])], &t1 = t[1][size_t(idx[1])], &t2 = t[2][size_t(idx[2])],
               &t3 = t[3][size_t(idx[3])];
    if (t0.empty() || t1.empty() || t2.empty() || t3.empty()) {
      y[size_t(e)] = r.extrap;
      continue;
    }
    double acc = 0;
    for (const auto& a : t0)
      for (const auto& b : t1)
        for (const auto& c : t2)
          for (const auto& d : t3)
            acc += a.second * b.second * c.second * d.second *
                   x[size_t(((a.first * xs[1] + b.first) * xs[2] + c.first) * xs[3] + d.first)];
    y[size_t(e)] = acc;
  }
  return y;
}

Node resize_node(const ResizeSpec& r, int64_t opset) {
  Node n = op_node("Resize", opset >= 11 ? 4 : 2, opset);
  n.mode = r.mode;
  n.coord_mode = r.coord;
  n.nearest_mode = r.nearest;
  n.cubic_a = static_cast<float>(r.a);
  n.exclude_outside = r.exclude;
  n.extrapolation = static_cast<float>(r.extrap);
  return n;
}

TEST(ResizeOp, EveryModeAndCoordinateTransform) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{2, 3, 4, 6};
  const auto x = rng.uniform(xs);
  const Tensor tx = f32_tensor(xs, x);
  const std::vector<double> roi{0, 0, 0.1, 0.2, 1, 1, 0.9, 0.7};
  Tensor troi(DType::f32, {8});
  for (size_t i = 0; i < 8; ++i) troi.data<float>()[i] = static_cast<float>(roi[i]);
  // (out h, out w): up, down, mixed; scales 2 / 0.5 / 1.5 are exact in float, so
  // nearest rounding sees the same coordinates as the double reference.
  const std::vector<std::pair<int64_t, int64_t>> outs{{8, 12}, {2, 3}, {6, 3}, {1, 9}};
  for (const char* mode : {"nearest", "linear", "cubic"})
    for (const char* coord : {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                              "tf_half_pixel_for_nn", "tf_crop_and_resize"})
      for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})
        for (bool exclude : {false, true})
          for (bool by_sizes : {false, true})
            for (const auto& o : outs) {
              if (std::string(mode) != "nearest" && std::string(nearest) != "round_prefer_floor") continue;
              if (std::string(mode) != "cubic" && exclude) continue;
              ResizeSpec r{mode, coord, nearest, -0.5, exclude, 0.25};
              const double sh = double(o.first) / 4, sw = double(o.second) / 6;
              // Scales must give the same sizes: floor(in * scale).
              const Tensor scales = f32_tensor({4}, {1, 1, static_cast<float>(sh), static_cast<float>(sw)});
              const Tensor sizes = i64_tensor({2, 3, o.first, o.second});
              Node n = resize_node(r, 19);
              const OpResult got = run_op(n, {&tx, &troi, by_sizes ? nullptr : &scales, by_sizes ? &sizes : nullptr});
              const auto want = ref_resize(r, xs, x, o.first, o.second, static_cast<float>(sh), static_cast<float>(sw), roi);
              SCOPED_TRACE(std::string(mode) + " " + coord + " " + nearest + " exclude " + std::to_string(exclude) +
                           " to " + std::to_string(o.first) + "x" + std::to_string(o.second) +
                           (by_sizes ? " (sizes)" : " (scales)"));
              ASSERT_EQ(got.shape, (Shape{2, 3, o.first, o.second}));
              expect_close(got.y, want, 1e-5, 1e-5);
            }
}

TEST(ResizeOp, OpsetTenAndUpsample) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{1, 2, 3, 5};
  const auto x = rng.uniform(xs);
  const Tensor tx = f32_tensor(xs, x);
  const Tensor scales = f32_tensor({4}, {1, 1, 2, 3});
  const std::vector<double> roi{0, 0, 0, 0, 1, 1, 1, 1};
  for (const char* op : {"Resize", "Upsample"})
    for (const char* mode : {"nearest", "linear"}) {
      Node n = op_node(op, 2, std::string(op) == "Resize" ? 10 : 9);
      n.mode = mode;  // parse set asymmetric + floor for these opsets
      EXPECT_EQ(n.coord_mode, "asymmetric");
      EXPECT_EQ(n.nearest_mode, "floor");
      const OpResult got = run_op(n, {&tx, &scales});
      ResizeSpec r{mode, "asymmetric", "floor"};
      ASSERT_EQ(got.shape, (Shape{1, 2, 6, 15}));
      expect_close(got.y, ref_resize(r, xs, x, 6, 15, 2, 3, roi), 1e-5, 1e-6);
    }
}

TEST(ResizeOp, AxesAndAspectPolicy) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{1, 2, 4, 8};
  const Tensor tx = f32_tensor(xs, rng.uniform(xs));
  Node n = resize_node({"linear"}, 18);
  n.ints = {2, 3};
  n.aspect_policy = "not_larger";
  const Tensor sizes = i64_tensor({8, 8});
  EXPECT_EQ(run_op(n, {&tx, nullptr, nullptr, &sizes}).shape, (Shape{1, 2, 4, 8}));  // scale min(2, 1) = 1
  n.aspect_policy = "not_smaller";
  EXPECT_EQ(run_op(n, {&tx, nullptr, nullptr, &sizes}).shape, (Shape{1, 2, 8, 16}));
  n.aspect_policy = "stretch";
  EXPECT_EQ(run_op(n, {&tx, nullptr, nullptr, &sizes}).shape, (Shape{1, 2, 8, 8}));
  const Tensor scales = f32_tensor({2}, {1, 1});
  EXPECT_THROW(run_op(n, {&tx, nullptr, &scales, &sizes}), ModelError);  // both given
}

// ---------------------------------------------------------------- Pad

int64_t pad_source(const std::string& mode, int64_t i, int64_t n) {
  if (i >= 0 && i < n) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return i < 0 ? 0 : n - 1;
  if (mode == "wrap") return ((i % n) + n) % n;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;  // reflect, step by step
  return i;
}

TEST(PadOp, EveryMode) {
  Rng rng;
  SEED_TRACE(rng);
  const Shape xs{2, 3, 5, 4};
  const auto x = rng.uniform(xs);
  const Tensor tx = f32_tensor(xs, x);
  const std::vector<int64_t> pads{0, 1, 3, 2, 1, 0, 4, -1};
  const Tensor tpads = i64_tensor(pads);
  const Tensor cval = f32_tensor({}, {0.5f});
  for (const char* mode : {"constant", "reflect", "edge", "wrap"})
    for (int64_t opset : {2, 11, 19}) {
      if (std::string(mode) == "wrap" && opset < 19) continue;
      Node n = op_node("Pad", opset >= 11 ? 3 : 1, opset);
      n.mode = mode;
      OpResult got;
      if (opset < 11) {
        n.ints = pads;
        n.value = 0.5;
        got = run_op(n, {&tx});
      } else {
        got = run_op(n, {&tx, &tpads, &cval});
      }
      Shape ys(4);
      for (size_t i = 0; i < 4; ++i) ys[i] = xs[i] + pads[i] + pads[4 + i];
      ASSERT_EQ(got.shape, ys) << mode;
      std::vector<double> want(static_cast<size_t>(shape_numel(ys)));
      for (int64_t e = 0; e < shape_numel(ys); ++e) {
        const auto idx = unravel(e, ys);
        int64_t off = 0;
        bool c = false;
        for (size_t i = 0; i < 4; ++i) {
          const int64_t s = pad_source(mode, idx[i] - pads[i], xs[i]);
          c |= s < 0;
          off = off * xs[i] + std::max<int64_t>(s, 0);
        }
        want[static_cast<size_t>(e)] = c ? 0.5 : x[static_cast<size_t>(off)];
      }
      SCOPED_TRACE(std::string(mode) + " opset " + std::to_string(opset));
      expect_close(got.y, want, 0, 0);
    }
  // Opset 18 axes: pads for the listed axes only.
  Node n = op_node("Pad", 4, 18);
  n.mode = "reflect";
  const Tensor p2 = i64_tensor({1, 2, 1, 1}), axes = i64_tensor({-1, 2});
  EXPECT_EQ(run_op(n, {&tx, &p2, nullptr, &axes}).shape, (Shape{2, 3, 8, 6}));  // axis 2: 5 + 2 + 1, axis 3: 4 + 1 + 1
}

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

TEST(SpaceDepthOps, AgainstIndexLoops) {
  Rng rng;
  SEED_TRACE(rng);
  const int64_t N = 2, C = 8, H = 3, W = 5, b = 2, c = C / (b * b);
  const Shape xs{N, C, H, W};
  const auto x = rng.uniform(xs);
  const Tensor tx = f32_tensor(xs, x);
  for (const char* mode : {"DCR", "CRD"}) {
    Node n = op_node("DepthToSpace", 1, 13);
    n.blocksize = b;
    n.mode = mode;
    const OpResult got = run_op(n, {&tx});
    ASSERT_EQ(got.shape, (Shape{N, c, H * b, W * b}));
    std::vector<double> want(got.y.size());
    for (int64_t nn = 0; nn < N; ++nn)
      for (int64_t cc = 0; cc < c; ++cc)
        for (int64_t h = 0; h < H * b; ++h)
          for (int64_t w = 0; w < W * b; ++w) {
            const int64_t bh = h % b, bw = w % b;
            const int64_t src_c = std::string(mode) == "DCR" ? (bh * b + bw) * c + cc : cc * b * b + bh * b + bw;
            want[static_cast<size_t>(((nn * c + cc) * H * b + h) * W * b + w)] =
                x[static_cast<size_t>(((nn * C + src_c) * H + h / b) * W + w / b)];
          }
    expect_close(got.y, want, 0, 0);
    // SpaceToDepth inverts DCR.
    if (std::string(mode) == "DCR") {
      Node s = op_node("SpaceToDepth", 1, 13);
      s.blocksize = b;
      const Tensor ty = f32_tensor(got.shape, got.y);
      const OpResult back = run_op(s, {&ty});
      ASSERT_EQ(back.shape, xs);
      EXPECT_TRUE(bitwise_equal(back.y, x));
    }
  }
}

}  // namespace
}  // namespace mgi
