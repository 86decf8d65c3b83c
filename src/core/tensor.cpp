#include "tensor.hpp"

#include <limits>

#include "error.hpp"

namespace mgi {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::i64: return "int64";
  }
  return "?";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    if (d < 0) throw ModelError("shape " + shape_str(s) + " has an unknown or negative dimension");
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw ModelError("shape " + shape_str(s) + " has more elements than int64 can count");
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t k = 0; k < s.size(); ++k) {
    if (k) r += ", ";
    r += s[k] < 0 ? std::string("?") : std::to_string(s[k]);
  }
  return r + "]";
}

std::string batch_shape_str(const Shape& s) {
  std::string r = "[batch";
  for (size_t k = 1; k < s.size(); ++k) r += ", " + (s[k] < 0 ? std::string("?") : std::to_string(s[k]));
  return r + "]";
}

Shape row_shape(const Shape& s) { return s.empty() ? Shape{} : Shape(s.begin() + 1, s.end()); }

}  // namespace mgi
