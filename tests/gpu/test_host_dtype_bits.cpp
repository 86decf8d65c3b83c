// The CUDA Cast kernel's element conversions (dtype_bits.hpp), run on the host,
// against the host's convert_elements() (dtype.cpp): bit for bit, for every
// half and bfloat16 pattern, many float32 patterns and every type pair.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "dtype_bits.hpp"
#include "strided.hpp"

namespace mgi::cuda {
namespace {

constexpr DType kAll[] = {DType::f32, DType::f16, DType::bf16, DType::i64, DType::i32, DType::i8, DType::u8, DType::b8};

TEST(DtypeBits, EveryHalfAndBf16PatternWidensLikeTheHost) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = bits::half_to_float(static_cast<uint16_t>(h)), b = half_to_float(static_cast<uint16_t>(h));
    ASSERT_EQ(bits::float_bits(a), bits::float_bits(b)) << "half " << h;
    const float c = bits::bf16_to_float(static_cast<uint16_t>(h)), d = mgi::bf16_to_float(static_cast<uint16_t>(h));
    ASSERT_EQ(bits::float_bits(c), bits::float_bits(d)) << "bf16 " << h;
  }
}

TEST(DtypeBits, Float32PatternsNarrowLikeTheHost) {
  std::mt19937 g(5);
  for (int k = 0; k < 2000000; ++k) {
    // Random bit patterns, then all patterns near the half range's edges and ties.
    const uint32_t u = k < 1000000 ? static_cast<uint32_t>(g()) : 0x33000000u + static_cast<uint32_t>(k - 1000000) * 37u;
    const float f = bits::bits_float(u);
    ASSERT_EQ(bits::float_to_half(f), float_to_half(f)) << std::hex << u;
    ASSERT_EQ(bits::float_to_bf16(f), float_to_bf16(f)) << std::hex << u;
  }
}

TEST(DtypeBits, EveryTypePairConvertsLikeTheHost) {
  const double special[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 0.5, -0.5, 2.5, -2.5, 127.5, 128.0, 255.9, 256.0,
                            -129.0, 65504.0, 65520.0, 6e-8, 3e9, -3e9, 9.3e18, -9.3e18, 1e30, 16777217.0};
  const int64_t ints[] = {0, 1, -1, 127, 128, 255, 256, -129, 65504, 16777217, std::numeric_limits<int32_t>::max(),
                          std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()};
  for (DType from : kAll) {
    const int64_t n = is_float(from) ? std::size(special) : std::size(ints);
    Tensor src(from, {n});
    if (is_float(from)) {
      std::vector<float> v(std::begin(special), std::end(special));
      convert_elements(DType::f32, v.data(), from, src.raw(), n);
    } else {
      convert_elements(DType::i64, ints, from, src.raw(), n);
    }
    for (DType to : kAll) {
      if (from == to) continue;
      Tensor want(to, {n}), got(to, {n});
      convert_elements(from, src.raw(), to, want.raw(), n);
      for (int64_t j = 0; j < n; ++j) bits::convert_one(from, src.raw(), to, got.raw(), j);
      EXPECT_EQ(std::memcmp(want.raw(), got.raw(), want.bytes()), 0) << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
}

// Where's three-operand map against a plain broadcast loop.
TEST(IndexMaps, Broadcast3MatchesNestedLoops) {
  const Shape c{4, 1, 5}, x{3, 5}, y{1}, out{4, 3, 5};
  const Strided3 st = broadcast3_strides(c, x, y, out);
  ASSERT_EQ(st.numel(), 60);
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 5; ++k) {
        int64_t o0, o1, o2;
        strided3_offsets(st, (i * 3 + j) * 5 + k, o0, o1, o2);
        EXPECT_EQ(o0, i * 5 + k);
        EXPECT_EQ(o1, j * 5 + k);
        EXPECT_EQ(o2, 0);
      }
  EXPECT_EQ(broadcast3_strides({2, 3}, {2, 3}, {2, 3}, {2, 3}).rank, 1);  // same shapes: flat
  EXPECT_THROW(broadcast3_strides({2}, {3}, {1}, {3}), Error);
}

// Slice's gather map: x [3, 4], rows 2..0 (step -1), columns 1, 3.
TEST(IndexMaps, SliceWithNegativeStep) {
  int64_t base = 0;
  const Strided st = slice_strides({3, 4}, {2, 1}, {-1, 2}, {3, 2}, base);
  std::vector<int64_t> got;
  for (int64_t i = 0; i < st.numel(); ++i) {
    int64_t oa, ob;
    strided_offsets<0>(st, i, oa, ob);
    got.push_back(base + oa);
  }
  EXPECT_EQ(got, (std::vector<int64_t>{9, 11, 5, 7, 1, 3}));
}

}  // namespace
}  // namespace mgi::cuda
