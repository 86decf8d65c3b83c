// Host tensors and shapes shared by the loader, the graph IR and the backends.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "dtype.hpp"

namespace mgi {

using Shape = std::vector<int64_t>;

// Product of dims. Throws ModelError if a dim is negative or the product overflows int64.
int64_t shape_numel(const Shape& s);
// "[8, 64]"; a negative dim prints as "?".
std::string shape_str(const Shape& s);
// "[batch, 64, ?]": a model's declared shape with its first dim as the batch.
std::string batch_shape_str(const Shape& s);
// s without its first dim (the batch dim).
Shape row_shape(const Shape& s);

// A typed, dense, row-major host tensor that owns its bytes (8-byte aligned).
class Tensor {
 public:
  Tensor() = default;
  Tensor(DType t, Shape s);  // zero-filled; throws ModelError for a bad shape
  template <class T>
  static Tensor of(DType t, Shape s, const std::vector<T>& values) {  // values.size() == numel
    Tensor r(t, std::move(s));
    for (size_t k = 0; k < values.size(); ++k) r.data<T>()[k] = values[k];
    return r;
  }
  static Tensor f32(Shape s, const std::vector<float>& v) { return of(DType::f32, std::move(s), v); }
  static Tensor i64(Shape s, const std::vector<int64_t>& v) { return of(DType::i64, std::move(s), v); }

  DType dtype = DType::f32;
  Shape shape;

  int64_t numel() const { return shape_numel(shape); }
  size_t bytes() const { return bytes_; }
  void* raw() { return words_.data(); }
  const void* raw() const { return words_.data(); }
  template <class T>
  T* data() {
    return static_cast<T*>(raw());
  }
  template <class T>
  const T* data() const {
    return static_cast<const T*>(raw());
  }
  // Element k as int64 / double, whatever the dtype (shape arithmetic, messages).
  int64_t int_at(int64_t k) const { return element_as_int(dtype, raw(), k); }
  double double_at(int64_t k) const { return element_as_double(dtype, raw(), k); }
  // All elements as int64 (axes, shapes, indices read on the host).
  std::vector<int64_t> ints() const;
  // A copy converted to `to` (Cast semantics).
  Tensor cast(DType to) const;
  // Frees the bytes, keeping dtype and shape (a weight kept only in packed form).
  void release();

 private:
  std::vector<uint64_t> words_;
  size_t bytes_ = 0;
};

}  // namespace mgi
