// The constant folder's Folder, shared by its files: constant_fold.cpp (the op
// dispatch and the checks every op uses), constant_fold_layout.cpp (ops that
// move or reshape data), constant_fold_index.cpp (Gather, Concat, Slice,
// Expand, Where) and constant_fold_arith.cpp (int64 arithmetic and generators).
#pragma once
#include <algorithm>
#include <string>
#include <type_traits>
#include <vector>

#include "constant_fold.hpp"
#include "graph.hpp"

namespace mgi::const_fold {

using onnx::TensorProto;

template <class T>
std::vector<T>& data(Tensor& t);
template <>
inline std::vector<float>& data<float>(Tensor& t) { return t.f; }
template <>
inline std::vector<int64_t>& data<int64_t>(Tensor& t) { return t.i; }
template <class T>
const std::vector<T>& data(const Tensor& t) { return data<T>(const_cast<Tensor&>(t)); }

template <class T>
constexpr DType dtype_of() { return std::is_same<T, float>::value ? DType::f32 : DType::i64; }

// Calls f(T{}) with T = float or int64_t according to d.
template <class F>
void by_dtype(DType d, F&& f) {
  if (d == DType::f32) f(float{});
  else f(int64_t{});
}

inline bool has_batch(const Tensor& t) {
  return t.dtype == DType::i64 && std::find(t.i.begin(), t.i.end(), kBatchDim) != t.i.end();
}

struct Folder {
  const OnnxNode& node;
  int64_t opset;
  const std::vector<const Tensor*>& in;

  [[noreturn]] void fail(const std::string& m) const { node.fail(m); }

  const Tensor& input(size_t k) const {
    if (k >= in.size() || in[k] == nullptr) fail("missing required input " + std::to_string(k));
    return *in[k];
  }
  bool present(size_t k) const { return k < in.size() && in[k] != nullptr; }

  // constant_fold.cpp
  void no_batch(const Tensor& t) const;
  std::vector<int64_t> ints(const Tensor& t, const char* what) const;
  void check_size(const Shape& s) const;
  int64_t axis(int64_t a, int64_t rank, const char* what) const;
  Tensor reshaped(const Tensor& t, Shape s) const;
  std::vector<int64_t> offsets(const Shape& in_shape, const Shape& out) const;
  Shape bshape(const Shape& a, const Shape& b) const;

  // constant_fold_layout.cpp
  Tensor cast() const;
  Tensor reshape() const;
  Tensor flatten() const;
  std::vector<int64_t> axes_param(size_t input_index, bool required) const;
  Tensor squeeze() const;
  Tensor unsqueeze() const;
  Tensor transpose() const;

  // constant_fold_index.cpp
  Tensor gather() const;
  Tensor concat() const;
  Tensor slice() const;
  Tensor expand() const;
  Tensor where() const;

  // constant_fold_arith.cpp
  Tensor constant_of_shape() const;
  Tensor range() const;
  Tensor arith(const std::string& op) const;
  Tensor unary_int(const std::string& op) const;
};

}  // namespace mgi::const_fold
