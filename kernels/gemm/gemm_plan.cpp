#include "gemm_plan.hpp"

#include "broadcast.hpp"
#include "error.hpp"
#include "strided.hpp"

namespace mgi::cuda {

MatmulPlan plan_matmul(const Shape& a_shape, const Shape& b_shape) {
  if (a_shape.empty() || b_shape.empty())
    throw ModelError("CUDA backend: MatMul of a scalar (" + shape_str(a_shape) + " x " + shape_str(b_shape) + ")");
  // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the extra dim is not in y.
  const Shape as = a_shape.size() == 1 ? Shape{1, a_shape[0]} : a_shape;
  const Shape bs = b_shape.size() == 1 ? Shape{b_shape[0], 1} : b_shape;
  MatmulPlan p;
  p.m = as[as.size() - 2];
  p.k = as.back();
  p.n = bs.back();
  if (bs[bs.size() - 2] != p.k)
    throw ModelError("CUDA backend: MatMul inner dims differ: " + shape_str(a_shape) + " x " + shape_str(b_shape));
  const Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  const Broadcast batch = broadcast_shapes(a_batch, b_batch);
  const int64_t count = shape_numel(batch.out);
  p.y_numel = count * p.m * p.n;
  if (p.y_numel == 0) return p;
  if (p.k == 0) {  // empty sums
    p.zero_fill = true;
    return p;
  }
  if (shape_numel(b_batch) == 1) {
    // B shared by every product: A's batch folds into its rows (A and y are dense).
    p.m *= count;
    p.calls.push_back(GemmCall{});
    return p;
  }
  // Batch dims reduced to the fewest strided dims; the innermost is one
  // strided-batched call, the others (mixed broadcasting only) a loop of calls.
  const Strided st = coalesce(batch, p.m * p.k, p.k * p.n);
  const int last = st.rank - 1;
  const int64_t inner = st.dims[last];
  for (int64_t o = 0; o < count / inner; ++o) {
    GemmCall c;
    int64_t rem = o;
    for (int d = last - 1; d >= 0; --d) {
      const int64_t idx = rem % st.dims[d];
      rem /= st.dims[d];
      c.a_offset += idx * st.sa[d];
      c.b_offset += idx * st.sb[d];
    }
    c.y_offset = o * inner * p.m * p.n;
    c.stride_a = st.sa[last];
    c.stride_b = st.sb[last];
    c.stride_y = p.m * p.n;
    c.count = inner;
    p.calls.push_back(c);
  }
  return p;
}

}  // namespace mgi::cuda
