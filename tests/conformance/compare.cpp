// Outputs against the suite's expected outputs, as ONNX's backend test does
// (numpy's assert_allclose: |got - want| <= atol + rtol * |want|, NaN equal to
// NaN), integers and bools exactly.
#include <cmath>
#include <sstream>

#include "conformance.hpp"

namespace mgi::conformance {

std::string compare(const Tensor& got_in, const Tensor& want, double rtol, double atol) {
  // float16/bfloat16 expected data is read as float32 (tensor_from_onnx): widen ours to compare.
  const Tensor got = got_in.dtype == DType::f16 || got_in.dtype == DType::bf16 ? got_in.cast(DType::f32) : got_in;
  std::ostringstream s;
  if (got.shape != want.shape) {
    s << "shape " << shape_str(got.shape) << ", expected " << shape_str(want.shape);
    return s.str();
  }
  if (got.dtype != want.dtype) {
    s << "type " << dtype_name(got_in.dtype) << ", expected " << dtype_name(want.dtype);
    return s.str();
  }
  const int64_t n = got.numel();
  int64_t bad = 0, worst = -1;
  double worst_err = -1, max_err = 0;
  if (want.dtype == DType::f32) {
    const float* a = got.data<float>();
    const float* e = want.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      bool ok;
      double err;
      if (std::isnan(a[i]) || std::isnan(e[i])) {
        ok = std::isnan(a[i]) && std::isnan(e[i]);
        err = ok ? 0 : INFINITY;
      } else if (std::isinf(a[i]) || std::isinf(e[i])) {
        ok = a[i] == e[i];
        err = ok ? 0 : INFINITY;
      } else {
        err = std::fabs(static_cast<double>(a[i]) - static_cast<double>(e[i]));
        ok = err <= atol + rtol * std::fabs(static_cast<double>(e[i]));
      }
      if (std::isfinite(err) && err > max_err) max_err = err;
      if (!ok) {
        ++bad;
        if (err > worst_err) worst_err = err, worst = i;
      }
    }
    if (bad == 0) return "";
    s.precision(9);
    s << bad << " of " << n << " elements differ; max |err| " << max_err << "; worst at element " << worst
      << ": got " << a[worst] << ", expected " << e[worst];
    return s.str();
  }
  for (int64_t i = 0; i < n; ++i)
    if (got.int_at(i) != want.int_at(i)) {
      ++bad;
      if (worst < 0) worst = i;
    }
  if (bad == 0) return "";
  s << bad << " of " << n << " elements differ; first at element " << worst << ": got " << got.int_at(worst)
    << ", expected " << want.int_at(worst);
  return s.str();
}

}  // namespace mgi::conformance
