// Host tensors and shapes shared by the loader, the graph IR and the backends.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mgi {

using Shape = std::vector<int64_t>;

// Runtime element types. Everything the backends compute is float32; int64 only
// appears in constants (Reshape shapes, Cast sources) folded at load time.
enum class DType : uint8_t { f32, i64 };

const char* dtype_name(DType t);

// Product of dims. Throws ModelError if a dim is negative or the product overflows int64.
int64_t shape_numel(const Shape& s);
// "[8, 64]"; a negative dim prints as "?".
std::string shape_str(const Shape& s);
// "[batch, 64, ?]": a model's declared shape with its first dim as the batch.
std::string batch_shape_str(const Shape& s);
// s without its first dim (the batch dim).
Shape row_shape(const Shape& s);

struct Tensor {
  DType dtype = DType::f32;
  Shape shape;
  std::vector<float> f;    // data when dtype == f32
  std::vector<int64_t> i;  // data when dtype == i64
  int64_t numel() const { return shape_numel(shape); }
};

}  // namespace mgi
