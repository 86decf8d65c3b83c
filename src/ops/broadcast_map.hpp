// Elementwise maps with numpy broadcasting, shared by the binary, math and
// logic families: out[i] = f(a[..], b[..]) (map2) and out[i] = f(x[i]) (map1).
// The common cases (same shapes, one side a single element) are flat loops the
// compiler vectorizes; the general case loops over the last output dim with
// strides. Each output element depends on its own inputs only, so OpenMP over
// elements or rows keeps results bitwise independent of threads and batch size.
#pragma once
#include <cstdint>

#include "broadcast.hpp"
#include "tensor.hpp"

namespace mgi {

constexpr int64_t kMapParallelMin = 16384;  // below this, threads cost more than they save

// os must be the broadcast of as and bs. out may be a (same-shaped) input:
// every element is read before it is written, at the same index.
template <class A, class B, class O, class F>
void map2(const Shape& as, const A* a, const Shape& bs, const B* b, const Shape& os, O* out, int threads, F f) {
  const int64_t total = shape_numel(os);
  if (as == bs) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kMapParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  const int64_t na = shape_numel(as), nb = shape_numel(bs);
  if (nb == 1) {
    const B bv = b[0];
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kMapParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(a[i], bv);
    return;
  }
  if (na == 1) {
    const A av = a[0];
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kMapParallelMin)
    for (int64_t i = 0; i < total; ++i) out[i] = f(av, b[i]);
    return;
  }
  // General case: loop over the last output dim with strides, outer index decoded per row.
  const Broadcast bc = broadcast_shapes(as, bs);
  const size_t rank = bc.out.size();
  const int64_t inner = rank ? bc.out[rank - 1] : 1;
  if (inner == 0 || total == 0) return;
  const int64_t rows = total / inner;
  const int64_t sa = rank ? bc.a_strides[rank - 1] : 0, sb = rank ? bc.b_strides[rank - 1] : 0;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > kMapParallelMin)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rem = r, ao = 0, bo = 0;
    for (size_t q = rank - 1; q-- > 0;) {
      const int64_t idx = rem % bc.out[q];
      rem /= bc.out[q];
      ao += idx * bc.a_strides[q];
      bo += idx * bc.b_strides[q];
    }
    const A* pa = a + ao;
    const B* pb = b + bo;
    O* po = out + r * inner;
    for (int64_t j = 0; j < inner; ++j) po[j] = f(pa[j * sa], pb[j * sb]);
  }
}

// out[i] = f(x[i]) for n elements.
template <class X, class O, class F>
void map1(int64_t n, const X* x, O* out, int threads, F f) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && n > kMapParallelMin)
  for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

}  // namespace mgi
