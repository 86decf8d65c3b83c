// What the reduction family (reduce.cpp) and the ops along one axis
// (along_axis.cpp) share: the threading threshold, the numeric-type dispatch
// of their kernels and its check.
#pragma once
#include <cstdint>
#include <string>

#include "error.hpp"
#include "op_registry.hpp"

namespace mgi::reduce_util {

constexpr int64_t kParallelMin = 16384;  // elements read; below this, threads cost more than they save

inline int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k) p *= s[k];
  return p;
}

// float32, int32, int64 (the types these kernels instantiate).
template <class F>
void by_num_type(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    default: MGI_ASSERT(false, std::string("numeric type ") + dtype_name(t));
  }
}

inline void want_num_type(const InferArgs& a, bool ints_ok) {
  const DType t = a.type(0);
  if (t == DType::f32 || (ints_ok && (t == DType::i32 || t == DType::i64))) return;
  a.fail(std::string("input has type ") + dtype_name(t) + "; expected " +
         (ints_ok ? "float32, int32 or int64" : "float32"));
}

}  // namespace mgi::reduce_util
