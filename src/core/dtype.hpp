// Element types of runtime values. Arithmetic is float32 (and integer where
// the op says so); float16 and bfloat16 are storage types, reached and left
// through Cast. bool is one byte, 0 or 1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mgi {

enum class DType : uint8_t { f32, f16, bf16, i64, i32, i8, u8, b8 };
constexpr int kDTypeCount = 8;

const char* dtype_name(DType t);  // "float32", "float16", "bfloat16", "int64", "int32", "int8", "uint8", "bool"
size_t dtype_size(DType t);
inline bool is_float(DType t) { return t == DType::f32 || t == DType::f16 || t == DType::bf16; }
inline bool is_integer(DType t) { return t == DType::i64 || t == DType::i32 || t == DType::i8 || t == DType::u8; }

// The C++ type that stores each DType (f16/bf16: their raw 16 bits).
template <DType T> struct Storage;
template <> struct Storage<DType::f32> { using type = float; };
template <> struct Storage<DType::f16> { using type = uint16_t; };
template <> struct Storage<DType::bf16> { using type = uint16_t; };
template <> struct Storage<DType::i64> { using type = int64_t; };
template <> struct Storage<DType::i32> { using type = int32_t; };
template <> struct Storage<DType::i8> { using type = int8_t; };
template <> struct Storage<DType::u8> { using type = uint8_t; };
template <> struct Storage<DType::b8> { using type = uint8_t; };

// IEEE half and bfloat16 <-> float32, round to nearest even (NaN stays NaN).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bf16_to_float(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t float_to_bf16(float f);

// Element k of a buffer of type t, as double / int64 (bool: 0 or 1).
double element_as_double(DType t, const void* data, int64_t k);
int64_t element_as_int(DType t, const void* data, int64_t k);

// dst[k] = src[k] converted from `from` to `to`, for count elements: ONNX Cast
// semantics (float -> int truncates toward zero; -> bool is "!= 0"; -> f16/bf16
// rounds to nearest even). Also converts HDF5 rows to a model input's type.
void convert_elements(DType from, const void* src, DType to, void* dst, int64_t count);

}  // namespace mgi
