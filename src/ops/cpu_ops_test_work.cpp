// mgi.test.Work: a test-only op for load-balance benchmarks. It sleeps instead
// of computing, so many oversubscribed ranks on a small machine behave like
// ranks driving GPUs: a rank's time grows with its rows' lengths, not with how
// many cores it shares.
#include <algorithm>
#include <chrono>
#include <thread>

#include "cpu_ops.hpp"
#include "error.hpp"

namespace mgi::cpu {

namespace {
// Bound on one call's sleep: a model file cannot make a batch hang for days.
constexpr double kMaxSleepNs = 3600e9;
}  // namespace

void test_work(const Node& n, const Shape& shape, const float* x, float* y, const ExecOptions& opt) {
  MGI_ASSERT(shape.size() == 2 && shape[1] >= 1, "test_work: shape must be [batch, d >= 1]");
  const int64_t rows = shape[0], d = shape[1];
  copy(rows * d, x, y, opt);
  double units = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float len = x[r * d];
    if (len > 0) units += len;  // NaN and negatives count as 0; +inf hits the cap below
  }
  const double ns = std::min(units * static_cast<double>(n.ns_per_unit), kMaxSleepNs);
  if (ns >= 1) std::this_thread::sleep_for(std::chrono::nanoseconds(static_cast<int64_t>(ns)));
}

}  // namespace mgi::cpu
