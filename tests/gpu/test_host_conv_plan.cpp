// The host side of the CUDA Conv (kernels/ops/conv_plan.hpp): the path a
// Conv takes (direct, pointwise, im2col), the im2col scratch and its chunks of
// images, and the im2col index formula of the device kernel, run here on the
// CPU: columns from im2col_source(), then per group and image the product the
// strided-batched cuBLAS call computes, against the CPU backend's Conv
// (random shapes and data, seed printed). Also the batched MatMul plans of
// attention shapes (one strided-batched call). ConvTranspose likewise: its
// column product, then col2im_element() of the device kernel. No device needed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "conv_plan.hpp"
#include "gemm_plan.hpp"
#include "op_registry.hpp"

namespace mgi::cuda {
namespace {

uint64_t seed() {
  const char* env = std::getenv("MGI_TEST_SEED");
  const uint64_t s = env && *env ? std::strtoull(env, nullptr, 10) : std::random_device{}();
  std::printf("[ seed     ] MGI_TEST_SEED=%llu\n", static_cast<unsigned long long>(s));
  return s;
}

Node conv_node(int64_t group, std::vector<int64_t> strides = {}, std::vector<int64_t> pads = {},
               std::vector<int64_t> dilations = {}, const std::string& auto_pad = "NOTSET") {
  Node n = make_node("Conv", {0, 1, 2}, {3});
  n.group = group;
  n.strides = std::move(strides);
  n.pads = std::move(pads);
  n.dilations = std::move(dilations);
  n.auto_pad = auto_pad;
  return n;
}

TEST(ConvPlan, Paths) {
  EXPECT_EQ(plan_conv(conv_node(8), {2, 8, 10, 10}, {8, 1, 3, 3}).path, ConvPath::direct);       // depthwise
  EXPECT_EQ(plan_conv(conv_node(4), {2, 4, 10, 10}, {8, 1, 3, 3}).path, ConvPath::direct);       // multiplier 2
  EXPECT_EQ(plan_conv(conv_node(1), {2, 4, 10, 10}, {2, 4, 3, 3}).path, ConvPath::direct);       // 2 channels
  EXPECT_EQ(plan_conv(conv_node(1), {2, 4, 10, 10}, {16, 4, 3, 3}).path, ConvPath::im2col);
  EXPECT_EQ(plan_conv(conv_node(1), {2, 4, 10, 10}, {16, 4, 1, 1}).path, ConvPath::pointwise);
  EXPECT_EQ(plan_conv(conv_node(2), {2, 4, 10, 10}, {16, 2, 1, 1}).path, ConvPath::pointwise);
  EXPECT_EQ(plan_conv(conv_node(1, {2, 2}), {2, 4, 10, 10}, {16, 4, 1, 1}).path, ConvPath::im2col);
  EXPECT_EQ(plan_conv(conv_node(1, {}, {1, 1, 1, 1}), {2, 4, 10, 10}, {16, 4, 1, 1}).path, ConvPath::im2col);
  EXPECT_EQ(plan_conv(conv_node(1), {2, 4, 100}, {16, 4, 1}).path, ConvPath::pointwise);
}

TEST(ConvPlan, GeometryAndAutoPad) {
  const ConvPlan p = plan_conv(conv_node(1, {2, 2}, {}, {}, "SAME_UPPER"), {3, 4, 9, 8}, {16, 4, 4, 3});
  EXPECT_EQ(p.g.out[0], 1);
  EXPECT_EQ(p.g.out[1], 5);
  EXPECT_EQ(p.g.out[2], 4);
  // SAME_UPPER: total pad (out - 1) * s + k - in, the extra one at the end.
  EXPECT_EQ(p.g.pb[1] + p.g.pe[1], 4 * 2 + 4 - 9);
  EXPECT_EQ(p.g.pb[1], 1);
  EXPECT_EQ(p.g.pe[1], 2);
  EXPECT_EQ(p.g.KK, 12);
  EXPECT_EQ(p.kg, 4 * 12);
  EXPECT_EQ(p.col_per_image, 4 * 12 * 20);
}

TEST(ConvPlan, ScratchAndChunks) {
  ConvPlan p = plan_conv(conv_node(1), {64, 16, 32, 32}, {32, 16, 3, 3});
  EXPECT_EQ(p.scratch_floats(), 64 * p.col_per_image);  // all images fit under the cap
  EXPECT_EQ(p.images_per_chunk(p.scratch_floats()), 64);
  EXPECT_EQ(p.images_per_chunk(3 * p.col_per_image + 5), 3);
  EXPECT_EQ(p.images_per_chunk(p.col_per_image), 1);
  // Over the cap: capped, and never below one image.
  p = plan_conv(conv_node(1), {512, 64, 64, 64}, {64, 64, 3, 3});
  EXPECT_EQ(p.scratch_floats(), kConvScratchCapFloats);
  EXPECT_EQ(p.images_per_chunk(p.scratch_floats()), kConvScratchCapFloats / p.col_per_image);
  p = plan_conv(conv_node(1), {2, 256, 256, 256}, {8, 256, 3, 3});
  EXPECT_EQ(p.scratch_floats(), p.col_per_image);
  EXPECT_GT(p.col_per_image, kConvScratchCapFloats);
  // Direct and pointwise convs need none.
  EXPECT_EQ(plan_conv(conv_node(8), {4, 8, 10, 10}, {8, 1, 3, 3}).scratch_floats(), 0);
  EXPECT_EQ(plan_conv(conv_node(1), {4, 8, 10, 10}, {8, 8, 1, 1}).scratch_floats(), 0);
}

// im2col + the per-group, per-image products of the cuBLAS calls, on the CPU.
std::vector<float> conv_by_plan(const ConvPlan& p, const std::vector<float>& x, const std::vector<float>& w,
                                const std::vector<float>& b, int64_t chunk) {
  std::vector<float> y(static_cast<size_t>(p.N * p.M * p.g.OUT), 0.0f);
  std::vector<float> col(static_cast<size_t>(chunk * p.col_per_image));
  for (int64_t first = 0; first < p.N; first += chunk) {
    const int64_t images = std::min(chunk, p.N - first);
    const float* xc = x.data() + first * p.C * p.g.IN;
    for (int64_t i = 0; i < images * p.col_per_image; ++i) {
      const int64_t src = im2col_source(p.g, p.C, i);
      col[static_cast<size_t>(i)] = src < 0 ? 0.0f : xc[src];
    }
    for (int64_t grp = 0; grp < p.G; ++grp)
      for (int64_t img = 0; img < images; ++img) {
        const float* bm = col.data() + img * p.col_per_image + grp * p.kg * p.g.OUT;  // [kg, OUT], ld OUT
        const float* a = w.data() + grp * p.mg * p.kg;                              // [mg, kg]
        float* out = y.data() + ((first + img) * p.M + grp * p.mg) * p.g.OUT;       // [mg, OUT]
        for (int64_t m = 0; m < p.mg; ++m)
          for (int64_t j = 0; j < p.g.OUT; ++j) {
            double s = 0;
            for (int64_t q = 0; q < p.kg; ++q) s += double(a[m * p.kg + q]) * bm[q * p.g.OUT + j];
            out[m * p.g.OUT + j] = static_cast<float>(s) + b[static_cast<size_t>(grp * p.mg + m)];
          }
      }
  }
  return y;
}

TEST(ConvPlan, Im2colMatchesCpuConv) {
  std::mt19937_64 rng(seed());
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const char* pads_modes[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  for (int trial = 0; trial < 40; ++trial) {
    const size_t nd = static_cast<size_t>(pick(1, 3));
    const int64_t G = pick(1, 3), cg = pick(1, 3), mg = pick(3, 5), N = pick(1, 4);
    Shape xs{N, G * cg}, ws{G * mg, cg};
    std::vector<int64_t> strides, pads(2 * nd), dil;
    for (size_t a = 0; a < nd; ++a) {
      const int64_t k = pick(1, 3), d = pick(1, 2);
      ws.push_back(k);
      dil.push_back(d);
      strides.push_back(pick(1, 2));
      xs.push_back(pick((k - 1) * d + 1, 9));
      pads[a] = pick(0, 1);
      pads[a + nd] = pick(0, 2);
    }
    const std::string mode = pads_modes[pick(0, 3)];
    Node n = conv_node(G, strides, mode == "NOTSET" ? pads : std::vector<int64_t>{}, dil, mode);
    const ConvPlan p = plan_conv(n, xs, ws);
    const std::string what = "trial " + std::to_string(trial) + " x " + shape_str(xs) + " w " + shape_str(ws) + " " + mode;
    Tensor x(DType::f32, xs), w(DType::f32, ws), b(DType::f32, {ws[0]});
    for (Tensor* t : {&x, &w, &b})
      for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = u(rng);
    const std::vector<Tensor> ref = run_cpu_node(n, {&x, &w, &b}, "test");
    auto vec = [](const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); };
    const std::vector<float> got = conv_by_plan(p, vec(x), vec(w), vec(b), pick(1, N));
    ASSERT_EQ(static_cast<int64_t>(got.size()), ref[0].numel()) << what;
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], ref[0].data<float>()[i], 1e-4) << what << " element " << i;
  }
}

// ConvTranspose by the plan: the per-group product into columns, then col2im_element() (+ bias).
TEST(ConvPlan, Col2imMatchesCpuConvTranspose) {
  std::mt19937_64 rng(seed());
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t nd = static_cast<size_t>(pick(1, 3));
    const int64_t G = pick(1, 2), cg = pick(1, 3), mg = pick(1, 3), N = pick(1, 3);
    Shape xs{N, G * cg}, ws{G * cg, mg};
    std::vector<int64_t> strides, pads(2 * nd), dil, opad;
    for (size_t a = 0; a < nd; ++a) {
      const int64_t k = pick(1, 3), s = pick(1, 3), d = pick(1, 2);
      ws.push_back(k);
      strides.push_back(s);
      dil.push_back(d);
      xs.push_back(pick(1, 5));
      pads[a] = pick(0, (k - 1) * d / 2);
      pads[a + nd] = pick(0, (k - 1) * d / 2);
      opad.push_back(pick(0, std::min(s, d) - 1));
    }
    Node n = make_node("ConvTranspose", {0, 1, 2}, {3});
    n.group = G;
    n.strides = strides;
    n.pads = pads;
    n.dilations = dil;
    n.output_padding = opad;
    const ConvPlan p = plan_conv_transpose(n, xs, ws);
    const std::string what = "trial " + std::to_string(trial) + " x " + shape_str(xs) + " w " + shape_str(ws);
    Tensor x(DType::f32, xs), w(DType::f32, ws), b(DType::f32, {p.M});
    for (Tensor* t : {&x, &w, &b})
      for (int64_t i = 0; i < t->numel(); ++i) t->data<float>()[i] = u(rng);
    const std::vector<Tensor> ref = run_cpu_node(n, {&x, &w, &b}, "test");
    ASSERT_EQ(ref[0].numel(), p.N * p.M * p.g.OUT) << what;
    std::vector<float> col(static_cast<size_t>(p.N * p.col_per_image));
    const float* xp = x.data<float>();
    const float* wp = w.data<float>();
    for (int64_t img = 0; img < p.N; ++img)
      for (int64_t grp = 0; grp < p.G; ++grp)
        for (int64_t r = 0; r < p.kg; ++r)  // col_g[r][q] = sum_c W_g[c][r] X_g[c][q]
          for (int64_t q = 0; q < p.g.IN; ++q) {
            double s = 0;
            for (int64_t c = 0; c < p.cg; ++c)
              s += double(wp[(grp * p.cg + c) * p.kg + r]) * xp[(img * p.C + grp * p.cg + c) * p.g.IN + q];
            col[static_cast<size_t>(img * p.col_per_image + (grp * p.kg + r) * p.g.IN + q)] = static_cast<float>(s);
          }
    for (int64_t i = 0; i < ref[0].numel(); ++i) {
      const float got = col2im_element(p.g, p.M, col.data(), i) + b.data<float>()[(i / p.g.OUT) % p.M];
      ASSERT_NEAR(got, ref[0].data<float>()[i], 1e-4) << what << " element " << i;
    }
  }
}

// Attention's products are one strided-batched call; a rank-2 B folds the batch into rows.
TEST(BatchedMatmulPlan, AttentionShapesAreOneCall) {
  MatmulPlan p = plan_matmul({8, 12, 128, 64}, {8, 12, 64, 128});
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].count, 8 * 12);
  EXPECT_EQ(p.calls[0].stride_a, 128 * 64);
  EXPECT_EQ(p.calls[0].stride_b, 64 * 128);
  EXPECT_EQ(p.calls[0].stride_y, 128 * 128);
  p = plan_matmul({8, 12, 128, 128}, {8, 12, 128, 64});  // scores x V
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].count, 96);
  p = plan_matmul({8, 128, 768}, {768, 3072});  // projection: one GEMM, batch folded into rows
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].count, 1);
  EXPECT_EQ(p.m, 8 * 128);
  p = plan_matmul({1, 12, 128, 64}, {8, 12, 64, 128});  // A broadcast over the batch: stride 0 where it repeats
  EXPECT_EQ(p.y_numel, 8 * 12 * 128 * 128);
  int64_t products = 0;
  for (const GemmCall& c : p.calls) products += c.count;
  EXPECT_EQ(products, 96);
}

}  // namespace
}  // namespace mgi::cuda
