// Typed values on the CUDA backend against the CPU backend: the int64
// embedding pattern of transformer encoders (ids -> Gather -> padding mask ->
// Where), Gather/Transpose/Concat/Expand/Slice/Where for every element size,
// Equal, Cast between every pair of types, integer arithmetic, host values read
// by a kernel, and out-of-range Gather indices. Fresh random inputs per run
// (seed printed, MGI_TEST_SEED replays); bitwise unless float arithmetic is involved.
#include <limits>

#include "gpu_typed_util.hpp"

namespace mgi::gputest {
namespace {

constexpr DType kAllTypes[] = {DType::f32, DType::f16, DType::bf16, DType::i64,
                               DType::i32, DType::i8,  DType::u8,   DType::b8};
// One type per element size, plus bool.
constexpr DType kSizes[] = {DType::f32, DType::i64, DType::f16, DType::u8, DType::b8};

std::string type_tag(DType t) { return dtype_name(t); }

// ids [batch, 8] (int64, ~1/4 of them 0 = padding) -> Gather(table [50, 16]) ->
// Where(Unsqueeze(Equal(ids, 0)), 0, emb) -> Reshape [batch, 128] -> Gemm -> Relu.
GraphBuilder embedding_model(Rng& w) {
  GraphBuilder b;
  const int ids = b.input({8}, DType::i64);
  const int emb = b.node("Gather", {b.random_constant(w, {50, 16}), ids}, [](Node& n) { n.axis = 0; });
  const int pad = b.node("Equal", {ids, b.constant_i64({}, {0})});
  const int mask = b.node("Unsqueeze", {pad, b.constant_i64({1}, {2})});  // [batch, 8, 1]
  const int x = b.node("Where", {mask, b.constant({}, {0.0f}), emb});
  const int flat = b.node("Reshape", {x, b.constant_i64({2}, {0, -1})});
  const int h = b.node("Gemm", {flat, b.weight(w, {10, 128}, 128), b.weight(w, {10}, 128)},
                       [](Node& n) { n.trans_b = true; });
  b.output(b.node("Relu", {h}));
  b.output(mask);  // a bool output through an alias
  return b;
}

InputGen token_ids(int64_t vocab) {
  return [=](Rng& rng, const Shape& s) {
    Tensor t(DType::i64, s);
    for (int64_t j = 0; j < t.numel(); ++j) t.data<int64_t>()[j] = rng.integer(0, 3) == 0 ? 0 : rng.integer(1, vocab - 1);
    return t;
  };
}

TEST(TypedOps, Int64EmbeddingModel) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = embedding_model(w);
  TypedOptions opt;
  opt.tol = 1e-5;
  opt.gen = {token_ids(50)};
  compare_typed(b, opt, "embedding");
  opt.cuda.cuda_graphs = true;  // the same through captured graphs (error flag and all)
  compare_typed(b, opt, "embedding (CUDA graphs)");
}

TEST(TypedOps, GatherOutOfRangeIsADataError) {
  MGI_REQUIRE_CUDA_DEVICE();
  Rng w(test_seed());
  const GraphBuilder b = embedding_model(w);
  auto gpu = make_cuda_backend(0);
  gpu->prepare(b.graph(), b.input_rows(), 4);
  Rng rng(1);
  TypedBatch in = {token_ids(50)(rng, {4, 8})};
  in[0].data<int64_t>()[13] = 50;  // one past the table
  EXPECT_THROW(run_typed(*gpu, b.graph(), b.input_rows(), in, 0, 4), DataError);
  in[0].data<int64_t>()[13] = -50;  // negative indices count from the end: -50 is row 0
  EXPECT_NO_THROW(run_typed(*gpu, b.graph(), b.input_rows(), in, 0, 4));  // the flag was cleared
  in[0].data<int64_t>()[13] = -51;
  EXPECT_THROW(run_typed(*gpu, b.graph(), b.input_rows(), in, 0, 4), DataError);
}

class GatherTypes : public ::testing::TestWithParam<std::tuple<DType, DType>> {};

// Runtime indices (int64 / int32, negative ones too) into a constant table, and
// constant indices into runtime data along axes 1, 2 and -1.
TEST_P(GatherTypes, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const auto [t, it] = GetParam();
  Rng w(test_seed() ^ 0x6a);
  GraphBuilder b;
  const int ids = b.input({4}, it);
  const int x = b.input({5, 6}, t);
  b.output(b.node("Gather", {b.constant(uniform_tensor(w, t, {7, 3}, -4, 4)), ids}, [](Node& n) { n.axis = 0; }));
  Tensor idx(it, {2, 2});
  const std::vector<int64_t> iv = {0, -1, 3, -5};
  convert_elements(DType::i64, iv.data(), it, idx.raw(), 4);
  const int ci = b.constant(idx);
  b.output(b.node("Gather", {x, ci}, [](Node& n) { n.axis = 1; }));   // [b, 2, 2, 6]
  Tensor idx2(it, {3});
  const std::vector<int64_t> iv2 = {5, -6, 2};
  convert_elements(DType::i64, iv2.data(), it, idx2.raw(), 3);
  b.output(b.node("Gather", {x, b.constant(idx2)}, [](Node& n) { n.axis = -1; }));  // [b, 5, 3]
  TypedOptions opt;
  opt.gen = {uniform(it, -7, 6), uniform(t, -100, 100)};
  compare_typed(b, opt, "Gather " + type_tag(t) + " by " + type_tag(it));
}

INSTANTIATE_TEST_SUITE_P(All, GatherTypes,
                         ::testing::Combine(::testing::ValuesIn(kSizes), ::testing::Values(DType::i64, DType::i32)),
                         [](const auto& i) {
                           return type_tag(std::get<0>(i.param)) + "_" + type_tag(std::get<1>(i.param));
                         });

class LayoutTypes : public ::testing::TestWithParam<DType> {};

// Transpose, Concat, Expand, Slice (negative step, clamped ends) and Where, one element size each.
TEST_P(LayoutTypes, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const DType t = GetParam();
  Rng w(test_seed() ^ 0x1b);
  GraphBuilder b;
  const int x = b.input({3, 4}, t);
  const int y = b.input({2, 4}, t);
  const int z = b.input({1, 4}, t);
  const int c = b.input({1, 4}, DType::b8);
  b.output(b.node("Transpose", {x}, [](Node& n) { n.perm = {0, 2, 1}; }));
  b.output(b.node("Concat", {x, y, z}, [](Node& n) { n.axis = 1; }));                  // [b, 6, 4]
  b.output(b.node("Expand", {z, b.constant_i64({2}, {3, 1})}));                       // [b, 3, 4]
  b.output(b.node("Slice", {x, b.constant_i64({2}, {2, 1}), b.constant_i64({2}, {-4, 1000}),
                            b.constant_i64({2}, {1, 2}), b.constant_i64({2}, {-1, 2})}));  // [b, 3, 2]
  b.output(b.node("Slice", {x, b.constant_i64({1}, {1}), b.constant_i64({1}, {3}), b.constant_i64({1}, {-1})}));
  b.output(b.node("Where", {c, x, b.constant(uniform_tensor(w, t, {4}, -9, 9))}));   // [b, 3, 4]
  TypedOptions opt;
  opt.gen = {uniform(t, -100, 100), uniform(t, -100, 100), uniform(t, -100, 100), uniform(DType::b8, 0, 1)};
  compare_typed(b, opt, "layout " + type_tag(t));
}

INSTANTIATE_TEST_SUITE_P(All, LayoutTypes, ::testing::ValuesIn(kSizes),
                         [](const auto& i) { return type_tag(i.param); });

class EqualTypes : public ::testing::TestWithParam<DType> {};

TEST_P(EqualTypes, MatchesCpu) {
  MGI_REQUIRE_CUDA_DEVICE();
  const DType t = GetParam();
  GraphBuilder b;
  const int a = b.input({4, 1}, t);
  const int c = b.input({3}, t);
  b.output(b.node("Equal", {a, c}));  // [b, 4, 3], broadcast both ways
  TypedOptions opt;
  opt.gen = {uniform(t, -2, 2), uniform(t, -2, 2)};  // few distinct values: many equal pairs
  if (is_float(t))  // integers as floats, so equality is frequent
    opt.gen = {[t](Rng& r, const Shape& s) { return uniform_tensor(r, DType::i64, s, -2, 2).cast(t); },
               [t](Rng& r, const Shape& s) { return uniform_tensor(r, DType::i64, s, -2, 2).cast(t); }};
  compare_typed(b, opt, "Equal " + type_tag(t));
}

INSTANTIATE_TEST_SUITE_P(All, EqualTypes, ::testing::ValuesIn(kAllTypes), [](const auto& i) { return type_tag(i.param); });

// Values that probe every conversion rule: NaN, infinities, signed zeros,
// ties, values past each integer range, subnormal halves, integer extremes.
InputGen cast_source(DType t) {
  return [t](Rng& rng, const Shape& s) {
    static const double special[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 127.5, 128.0,
                                     255.9, 256.0, -129.0, 65504.0, 65520.0, 1e-7, 6e-8, 3.0e9, -3.0e9, 2147483647.0,
                                     -2147483648.0, 9.3e18, -9.3e18, 1e30, 0.1, 1.0 / 3.0};
    Tensor r(t, s);
    const int64_t n = r.numel();
    if (is_float(t)) {
      std::vector<float> v = rng.uniform(n, -300.0f, 300.0f);
      for (int64_t j = 0; j < n; ++j)
        if (rng.integer(0, 1)) v[static_cast<size_t>(j)] = static_cast<float>(special[rng.integer(0, 27)]);
      convert_elements(DType::f32, v.data(), t, r.raw(), n);
    } else {
      std::vector<int64_t> v(static_cast<size_t>(n));
      const int64_t ext[] = {0, 1, -1, 127, 128, 255, 256, -129, 65504, 16777217, std::numeric_limits<int32_t>::max(),
                             std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
      for (auto& x : v) x = rng.integer(0, 1) ? ext[rng.integer(0, 12)] : rng.integer(-100000, 100000);
      if (t == DType::b8)
        for (auto& x : v) x = x != 0;
      convert_elements(DType::i64, v.data(), t, r.raw(), n);  // wraps into the narrower types
    }
    return r;
  };
}

class CastFrom : public ::testing::TestWithParam<DType> {};

// One graph per source type, one Cast output per target type: bitwise equal.
TEST_P(CastFrom, EveryTargetMatchesCpuBitwise) {
  MGI_REQUIRE_CUDA_DEVICE();
  const DType from = GetParam();
  GraphBuilder b;
  const int x = b.input({64}, from);
  for (DType to : kAllTypes) b.output(b.node("Cast", {x}, [to](Node& n) { n.to = to; }));
  TypedOptions opt;
  opt.gen = {cast_source(from)};
  compare_typed(b, opt, "Cast from " + type_tag(from));
}

INSTANTIATE_TEST_SUITE_P(All, CastFrom, ::testing::ValuesIn(kAllTypes), [](const auto& i) { return type_tag(i.param); });

class IntArith : public ::testing::TestWithParam<DType> {};

// Add/Sub/Mul/Div (wrapping, truncating, x / 0 = 0) and Neg/Abs on int64/int32, broadcast.
TEST_P(IntArith, MatchesCpuBitwise) {
  MGI_REQUIRE_CUDA_DEVICE();
  const DType t = GetParam();
  GraphBuilder b;
  const int a = b.input({3, 5}, t);
  const int c = b.input({5}, t);
  for (const char* op : {"Add", "Sub", "Mul", "Div"}) b.output(b.node(op, {a, c}));
  b.output(b.node("Neg", {a}));
  b.output(b.node("Abs", {a}));
  TypedOptions opt;
  opt.gen = {cast_source(t), uniform(t, -3, 3)};  // extremes over small divisors, zeros included
  compare_typed(b, opt, std::string("integer arithmetic ") + type_tag(t));
}

INSTANTIATE_TEST_SUITE_P(All, IntArith, ::testing::Values(DType::i64, DType::i32),
                         [](const auto& i) { return type_tag(i.param); });

// A host value a kernel reads as data: Gather indices computed from shapes
// (the last column, dim - 1), uploaded once per batch shape.
TEST(TypedOps, HostValueReadByAKernel) {
  MGI_REQUIRE_CUDA_DEVICE();
  GraphBuilder b;
  const int x = b.input({5, 6});
  const int dim = b.node("Gather", {b.node("Shape", {x}), b.constant_i64({1}, {2})}, [](Node& n) { n.axis = 0; });
  const int last = b.node("Sub", {dim, b.constant_i64({1}, {1})});  // {5}: a host value
  ASSERT_TRUE(b.graph().values[static_cast<size_t>(last)].host);
  b.output(b.node("Gather", {x, last}, [](Node& n) { n.axis = 2; }));  // [b, 5, 1]
  compare_typed(b, {}, "host value as Gather indices");
}

}  // namespace
}  // namespace mgi::gputest
