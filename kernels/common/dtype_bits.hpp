// Element conversions of the CUDA Cast kernel, bit for bit those of the host's
// convert_elements() (src/core/dtype.cpp): the same integer arithmetic, so
// NaN payloads, subnormals and ties round alike on both backends (cuda_fp16's
// intrinsics differ in NaN bits). Plain C++ apart from MGI_HD, so host tests
// check every path against the host functions.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "dtype.hpp"
#include "strided.hpp"  // MGI_HD

namespace mgi::cuda::bits {

MGI_HD inline uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return static_cast<uint32_t>(__float_as_uint(f));
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

MGI_HD inline float bits_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

MGI_HD inline float round_even(float v) {  // nearbyint in the default rounding mode
#ifdef __CUDA_ARCH__
  return rintf(v);
#else
  return std::nearbyint(v);
#endif
}

MGI_HD inline float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalize
      int e = -1;
      uint32_t m = man;
      do {
        ++e;
        m <<= 1;
      } while ((m & 0x400u) == 0);
      u = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (m & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | man << 13;
  } else {
    u = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  return bits_float(u);
}

MGI_HD inline uint16_t float_to_half(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow (after rounding) -> inf
  if (abs < 0x38800000u) {  // subnormal half or zero: scale by 2^24 and round to an integer
    const float scaled = bits_float(abs) * 16777216.0f;  // exact
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(round_even(scaled)));
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // round to nearest even at bit 13
  return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
}

MGI_HD inline float bf16_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

MGI_HD inline uint16_t float_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// Float -> integer: truncation toward zero, saturated, NaN -> 0 (dtype.cpp to_int).
template <class I>
MGI_HD inline I float_to_int(double v) {
  if (v != v) return 0;
  const double lo = static_cast<double>(std::numeric_limits<I>::min());
  const double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (v <= lo) return std::numeric_limits<I>::min();
  if (v >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

// One element in transit: a float source keeps its float32 value, an integer
// or bool source its int64 value, as convert_elements() does (an int64 -> float
// conversion rounds once, never through double).
struct Scalar {
  bool is_float;
  float f;
  int64_t i;
};

MGI_HD inline Scalar load(DType t, const void* p, int64_t k) {
  switch (t) {
    case DType::f32: return {true, static_cast<const float*>(p)[k], 0};
    case DType::f16: return {true, half_to_float(static_cast<const uint16_t*>(p)[k]), 0};
    case DType::bf16: return {true, bf16_to_float(static_cast<const uint16_t*>(p)[k]), 0};
    case DType::i64: return {false, 0.0f, static_cast<const int64_t*>(p)[k]};
    case DType::i32: return {false, 0.0f, static_cast<const int32_t*>(p)[k]};
    case DType::i8: return {false, 0.0f, static_cast<const int8_t*>(p)[k]};
    case DType::u8:
    case DType::b8: return {false, 0.0f, static_cast<const uint8_t*>(p)[k]};
  }
  return {false, 0.0f, 0};
}

template <class I>
MGI_HD inline I to_integer(const Scalar& s) {
  return s.is_float ? float_to_int<I>(static_cast<double>(s.f)) : static_cast<I>(s.i);
}

MGI_HD inline void store(DType t, void* p, int64_t k, const Scalar& s) {
  const float f = s.is_float ? s.f : static_cast<float>(s.i);
  switch (t) {
    case DType::f32: static_cast<float*>(p)[k] = f; return;
    case DType::f16: static_cast<uint16_t*>(p)[k] = float_to_half(f); return;
    case DType::bf16: static_cast<uint16_t*>(p)[k] = float_to_bf16(f); return;
    case DType::i64: static_cast<int64_t*>(p)[k] = to_integer<int64_t>(s); return;
    case DType::i32: static_cast<int32_t*>(p)[k] = to_integer<int32_t>(s); return;
    case DType::i8: static_cast<int8_t*>(p)[k] = to_integer<int8_t>(s); return;
    case DType::u8: static_cast<uint8_t*>(p)[k] = to_integer<uint8_t>(s); return;
    case DType::b8: static_cast<uint8_t*>(p)[k] = s.is_float ? (s.f != 0.0f) : (s.i != 0); return;
  }
}

// dst[k] = src[k] converted (from != to; equal types are a plain copy).
MGI_HD inline void convert_one(DType from, const void* src, DType to, void* dst, int64_t k) {
  store(to, dst, k, load(from, src, k));
}

}  // namespace mgi::cuda::bits
