#include "tensor.hpp"

#include <limits>

#include "error.hpp"

namespace mgi {

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

Tensor::Tensor(DType t, Shape s) : dtype(t), shape(std::move(s)) {
  const int64_t n = shape_numel(shape);
  bytes_ = static_cast<size_t>(n) * dtype_size(t);
  words_.assign((bytes_ + 7) / 8, 0);
}

std::vector<int64_t> Tensor::ints() const {
  const int64_t n = numel();
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) r[static_cast<size_t>(k)] = int_at(k);
  return r;
}

Tensor Tensor::cast(DType to) const {
  Tensor r(to, shape);
  convert_elements(dtype, raw(), to, r.raw(), numel());
  return r;
}

void Tensor::release() {
  std::vector<uint64_t>().swap(words_);
  bytes_ = 0;
}

}  // namespace mgi
