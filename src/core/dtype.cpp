#include "dtype.hpp"

#include <cmath>
#include <limits>

namespace mgi {

const char* dtype_name(DType t) {
  static const char* const names[kDTypeCount] = {"float32", "float16", "bfloat16", "int64",
                                                  "int32",   "int8",    "uint8",    "bool"};
  const auto k = static_cast<size_t>(t);
  return k < kDTypeCount ? names[k] : "?";
}

size_t dtype_size(DType t) {
  static const size_t sizes[kDTypeCount] = {4, 2, 2, 8, 4, 1, 1, 1};
  const auto k = static_cast<size_t>(t);
  return k < kDTypeCount ? sizes[k] : 0;
}

float half_to_float(uint16_t h) {
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
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow (after rounding) -> inf
  if (abs < 0x38800000u) {  // subnormal half or zero: scale by 2^24 and round to an integer
    float a;
    std::memcpy(&a, &abs, 4);
    const float scaled = a * 16777216.0f;  // exact; rint rounds half to even
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(scaled)));
  }
  const uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);  // round to nearest even at bit 13
  return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
}

uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

namespace {

template <class T>
const T* as(const void* p) {
  return static_cast<const T*>(p);
}

double load(DType t, const void* p, int64_t k) {
  switch (t) {
    case DType::f32: return as<float>(p)[k];
    case DType::f16: return half_to_float(as<uint16_t>(p)[k]);
    case DType::bf16: return bf16_to_float(as<uint16_t>(p)[k]);
    case DType::i64: return static_cast<double>(as<int64_t>(p)[k]);
    case DType::i32: return as<int32_t>(p)[k];
    case DType::i8: return as<int8_t>(p)[k];
    case DType::u8: return as<uint8_t>(p)[k];
    case DType::b8: return as<uint8_t>(p)[k] != 0;
  }
  return 0;
}

// Float -> integer as C++ truncation, saturated so out-of-range values stay defined.
template <class I>
I to_int(double v) {
  if (std::isnan(v)) return 0;
  const double lo = static_cast<double>(std::numeric_limits<I>::min());
  const double hi = static_cast<double>(std::numeric_limits<I>::max());
  if (v <= lo) return std::numeric_limits<I>::min();
  if (v >= hi) return std::numeric_limits<I>::max();
  return static_cast<I>(v);
}

template <class Src>
void convert_from(const Src* s, DType to, void* dst, int64_t n, bool src_is_float) {
  auto loop = [&](auto* d, auto f) {
    for (int64_t k = 0; k < n; ++k) d[k] = f(s[k]);
  };
  switch (to) {
    case DType::f32: return loop(static_cast<float*>(dst), [](Src v) { return static_cast<float>(v); });
    case DType::f16:
      return loop(static_cast<uint16_t*>(dst), [](Src v) { return float_to_half(static_cast<float>(v)); });
    case DType::bf16:
      return loop(static_cast<uint16_t*>(dst), [](Src v) { return float_to_bf16(static_cast<float>(v)); });
    case DType::b8: return loop(static_cast<uint8_t*>(dst), [](Src v) { return static_cast<uint8_t>(v != Src(0)); });
    case DType::i64:
      if (src_is_float) return loop(static_cast<int64_t*>(dst), [](Src v) { return to_int<int64_t>(double(v)); });
      return loop(static_cast<int64_t*>(dst), [](Src v) { return static_cast<int64_t>(v); });
    case DType::i32:
      if (src_is_float) return loop(static_cast<int32_t*>(dst), [](Src v) { return to_int<int32_t>(double(v)); });
      return loop(static_cast<int32_t*>(dst), [](Src v) { return static_cast<int32_t>(v); });
    case DType::i8:
      if (src_is_float) return loop(static_cast<int8_t*>(dst), [](Src v) { return to_int<int8_t>(double(v)); });
      return loop(static_cast<int8_t*>(dst), [](Src v) { return static_cast<int8_t>(v); });
    case DType::u8:
      if (src_is_float) return loop(static_cast<uint8_t*>(dst), [](Src v) { return to_int<uint8_t>(double(v)); });
      return loop(static_cast<uint8_t*>(dst), [](Src v) { return static_cast<uint8_t>(v); });
  }
}

}  // namespace

double element_as_double(DType t, const void* data, int64_t k) { return load(t, data, k); }
int64_t element_as_int(DType t, const void* data, int64_t k) {
  return t == DType::i64 ? as<int64_t>(data)[k] : static_cast<int64_t>(load(t, data, k));
}

void convert_elements(DType from, const void* src, DType to, void* dst, int64_t count) {
  if (count <= 0) return;
  if (from == to) {
    std::memmove(dst, src, static_cast<size_t>(count) * dtype_size(to));
    return;
  }
  switch (from) {
    case DType::f32: return convert_from(as<float>(src), to, dst, count, true);
    case DType::i64: return convert_from(as<int64_t>(src), to, dst, count, false);
    case DType::i32: return convert_from(as<int32_t>(src), to, dst, count, false);
    case DType::i8: return convert_from(as<int8_t>(src), to, dst, count, false);
    case DType::u8:
    case DType::b8: return convert_from(as<uint8_t>(src), to, dst, count, false);
    case DType::f16:
    case DType::bf16: {  // through float32, in blocks
      float buf[256];
      for (int64_t k = 0; k < count; k += 256) {
        const int64_t m = count - k < 256 ? count - k : 256;
        for (int64_t j = 0; j < m; ++j) buf[j] = static_cast<float>(load(from, src, k + j));
        convert_from(buf, to, static_cast<char*>(dst) + k * static_cast<int64_t>(dtype_size(to)), m, true);
      }
      return;
    }
  }
}

}  // namespace mgi
