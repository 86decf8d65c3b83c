// Layout ops: Transpose (general N-D) and plain copies (Reshape, Flatten, Identity).
#include <cstring>

#include "cpu_ops.hpp"

namespace mgi::cpu {

void transpose(const std::vector<int64_t>& perm_in, const Shape& in_shape, const float* x, float* y,
               const ExecOptions& opt) {
  const size_t rank = in_shape.size();
  std::vector<int64_t> perm = perm_in;
  if (perm.empty())
    for (size_t k = 0; k < rank; ++k) perm.push_back(static_cast<int64_t>(rank - 1 - k));
  std::vector<int64_t> in_stride(rank, 1);
  for (size_t k = rank; k-- > 1;) in_stride[k - 1] = in_stride[k] * in_shape[k];
  Shape out_shape(rank);
  std::vector<int64_t> src_stride(rank);  // input stride of each output dim
  for (size_t k = 0; k < rank; ++k) {
    out_shape[k] = in_shape[static_cast<size_t>(perm[k])];
    src_stride[k] = in_stride[static_cast<size_t>(perm[k])];
  }
  const int64_t total = shape_numel(out_shape);
  if (total == 0) return;
  if (rank == 0) {
    y[0] = x[0];
    return;
  }
  // Only dims of size 1 move (e.g. [B, 1, S] -> [B, S, 1]): the same element
  // order, so a copy.
  int64_t last = -1;
  bool same_order = true;
  for (size_t k = 0; k < rank && same_order; ++k) {
    const int64_t p = perm[k];
    if (in_shape[static_cast<size_t>(p)] == 1) continue;
    same_order = p > last;
    last = p;
  }
  if (same_order) return copy(total, x, y, opt);
  const int64_t inner = out_shape[rank - 1], rows = total / inner, s_inner = src_stride[rank - 1];
#pragma omp parallel for num_threads(opt.threads) schedule(static) if (opt.threads > 1 && total > 16384)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, off = 0;
    for (size_t q = rank - 1; q-- > 0;) {
      off += (rem % out_shape[q]) * src_stride[q];
      rem /= out_shape[q];
    }
    float* py = y + r * inner;
    for (int64_t j = 0; j < inner; ++j) py[j] = x[off + j * s_inner];
  }
}

void copy(int64_t count, const float* x, float* y, const ExecOptions&) {
  if (x != y && count > 0) std::memcpy(y, x, static_cast<size_t>(count) * sizeof(float));
}

}  // namespace mgi::cpu
