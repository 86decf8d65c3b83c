// Softmax, LogSoftmax, BatchNormalization, LayerNormalization. Reductions run
// per row in a fixed sequential order (double accumulators), so threads only
// split rows and never change a row's result.
#include <cmath>

#include "cpu_ops.hpp"
#include "error.hpp"

namespace mgi::cpu {

namespace {

int64_t norm_axis(int64_t axis, size_t rank) {
  return axis < 0 ? axis + static_cast<int64_t>(rank) : axis;
}
int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k) p *= s[k];
  return p;
}

}  // namespace

void softmax(const Node& n, const Shape& shape, const float* x, float* y, const ExecOptions& opt) {
  const size_t ax = static_cast<size_t>(norm_axis(n.axis, shape.size()));
  int64_t outer, len, inner;
  if (n.softmax_2d) {  // opset < 13: rows of the input flattened to 2-D at axis
    outer = prod(shape, 0, ax);
    len = prod(shape, ax, shape.size());
    inner = 1;
  } else {
    outer = prod(shape, 0, ax);
    len = shape[ax];
    inner = prod(shape, ax + 1, shape.size());
  }
  if (len == 0) return;
  const bool log_out = n.op == OpKind::LogSoftmax;
  const int64_t lines = outer * inner;
#pragma omp parallel for num_threads(opt.threads) schedule(static) if (opt.threads > 1 && lines > 64)
  for (int64_t l = 0; l < lines; ++l) {
    const int64_t base = (l / inner) * len * inner + (l % inner);
    const float* px = x + base;
    float* py = y + base;
    float mx = px[0];
    for (int64_t j = 1; j < len; ++j) mx = std::fmax(mx, px[j * inner]);
    double sum = 0.0;
    if (log_out) {
      for (int64_t j = 0; j < len; ++j) sum += std::exp(static_cast<double>(px[j * inner] - mx));
      const float lse = static_cast<float>(std::log(sum));
      for (int64_t j = 0; j < len; ++j) py[j * inner] = (px[j * inner] - mx) - lse;
    } else {
      for (int64_t j = 0; j < len; ++j) {
        const float e = std::exp(px[j * inner] - mx);
        py[j * inner] = e;
        sum += e;
      }
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < len; ++j) py[j * inner] *= inv;
    }
  }
}

void batchnorm(const Node& n, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
               const ExecOptions& opt) {
  const Shape& xs = s[0];
  const int64_t batch = xs[0], ch = xs[1], spatial = prod(xs, 2, xs.size());
  const float* x = in[0];
  const float *scale = in[1], *bias = in[2], *mean = in[3], *var = in[4];
  const int64_t planes = batch * ch;
#pragma omp parallel for num_threads(opt.threads) schedule(static) if (opt.threads > 1 && planes * spatial > 16384)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % ch;
    const float a = scale[c] / std::sqrt(var[c] + n.epsilon);
    const float mu = mean[c], b = bias[c];
    const float* px = x + p * spatial;
    float* py = out + p * spatial;
    for (int64_t j = 0; j < spatial; ++j) py[j] = (px[j] - mu) * a + b;
  }
}

void layernorm(const Node& n, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
               const ExecOptions& opt) {
  const Shape& xs = s[0];
  const size_t ax = static_cast<size_t>(norm_axis(n.axis, xs.size()));
  const int64_t rows = prod(xs, 0, ax), d = prod(xs, ax, xs.size());
  if (d == 0) return;
  const float* x = in[0];
  const float* scale = in[1];
  const float* bias = in.size() > 2 ? in[2] : nullptr;
  const bool scale1 = shape_numel(s[1]) == 1 && d != 1;
  const bool bias1 = bias && shape_numel(s[2]) == 1 && d != 1;
  const float eps = n.epsilon;
#pragma omp parallel for num_threads(opt.threads) schedule(static) if (opt.threads > 1 && rows > 16)
  for (int64_t r = 0; r < rows; ++r) {
    const float* px = x + r * d;
    float* py = out + r * d;
    double sum = 0.0;
    for (int64_t j = 0; j < d; ++j) sum += px[j];
    const double mean = sum / static_cast<double>(d);
    double sq = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      const double c = px[j] - mean;
      sq += c * c;
    }
    const float m = static_cast<float>(mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(d) + eps));
    for (int64_t j = 0; j < d; ++j) {
      float v = (px[j] - m) * inv * scale[scale1 ? 0 : j];
      if (bias) v += bias[bias1 ? 0 : j];
      py[j] = v;
    }
  }
}

}  // namespace mgi::cpu
