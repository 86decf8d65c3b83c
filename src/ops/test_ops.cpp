// mgi.test.Work: a test-only op for load-balance benchmarks. It sleeps instead
// of computing, so many oversubscribed ranks on a small machine behave like
// ranks driving GPUs: a rank's time grows with its rows' lengths, not with how
// many cores it shares. Accepted from the "mgi.test" domain only; never folded.
#include "test_ops.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "error.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

// Bound on one call's sleep: a model file cannot make a batch hang for days.
constexpr double kMaxSleepNs = 3600e9;

void parse_work(const OnnxNode& on, Node& n) {
  n.ns_per_unit = on.get_int("ns_per_unit", 1000);
  if (n.ns_per_unit < 0 || n.ns_per_unit > kMaxTestWorkNsPerUnit)
    on.fail("attribute 'ns_per_unit' must be in [0, " + std::to_string(kMaxTestWorkNsPerUnit) + "], got " +
            std::to_string(n.ns_per_unit));
}

void infer_work(const InferArgs& a, std::vector<OutInfo>& out) {  // identity; x[:, 0] is each row's length
  const Shape& x = a.shape(0);
  a.want_type(0, DType::f32);
  if (x.size() != 2 || x[1] < 1) a.fail("input has shape " + shape_str(x) + "; expected [batch, d] with d >= 1");
  out[0].dtype = DType::f32;
  out[0].shape = x;
}

void work_kernel(const KernelArgs& k) {
  const Shape& shape = *k.in[0].shape;
  MGI_ASSERT(shape.size() == 2 && shape[1] >= 1, "test_work: shape must be [batch, d >= 1]");
  const int64_t rows = shape[0], d = shape[1];
  const float* x = k.in[0].as<float>();
  float* y = k.out[0].as<float>();
  if (x != y && rows * d > 0) std::memcpy(y, x, static_cast<size_t>(rows * d) * sizeof(float));
  double units = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float len = x[r * d];
    if (len > 0) units += len;  // NaN and negatives count as 0; +inf hits the cap below
  }
  const double ns = std::min(units * static_cast<double>(k.node.ns_per_unit), kMaxSleepNs);
  if (ns >= 1) std::this_thread::sleep_for(std::chrono::nanoseconds(static_cast<int64_t>(ns)));
}

}  // namespace

void register_test_ops(OpRegistry& r) {
  OpDef d;
  d.domain = "mgi.test";
  d.name = "Work";
  d.parse = parse_work;
  d.infer = infer_work;
  d.cpu = work_kernel;
  d.no_fold = true;
  d.types = "float32";
  d.notes = "benchmarks and tests only: y = x, then sleeps sum(max(0, x[:, 0])) * ns_per_unit ns per batch";
  r.add(std::move(d));
}

}  // namespace mgi
