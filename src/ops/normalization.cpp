// BatchNormalization (inference form) and LayerNormalization. Reductions run
// per row in a fixed sequential order (double accumulators), so threads only
// split rows and never change a row's result.
#include <cmath>

#include "error.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k) p *= s[k];
  return p;
}

// ---- BatchNormalization ----

void parse_batchnorm(const OnnxNode& on, Node& n) {
  if (n.opset < 9 && on.get_int("spatial", 1) == 0) on.fail("spatial=0 is not supported");
  if (on.get_int("training_mode", 0) != 0) on.fail("training_mode=1 is not supported (inference only)");
  n.epsilon = on.get_float("epsilon", 1e-5f);
}

void infer_batchnorm(const InferArgs& a, std::vector<OutInfo>& out) {
  static const char* const const_names[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t k = 1; k < 5; ++k)
    if (!a.has(k) || k >= a.values.size() || !a.values[k] || a.type(k) != DType::f32)
      a.fail(std::string("input '") + const_names[k] + "' must be a float32 constant (inference form)");
  a.want_type(0, DType::f32);
  const Shape& x = a.shape(0);
  if (x.size() < 2) a.fail("input X has shape " + shape_str(x) + "; expected [N, C, ...]");
  static const char* const names[] = {"X", "scale", "B", "mean", "var"};
  for (size_t k = 1; k < 5; ++k) {
    const Shape& p = a.shape(k);
    if (p.size() != 1 || p[0] != x[1])
      a.fail("input " + std::string(names[k]) + " has shape " + shape_str(p) + " but X " + shape_str(x) +
             " has " + std::to_string(x[1]) + " channels; expected [" + std::to_string(x[1]) + "]");
  }
  out[0].dtype = DType::f32;
  out[0].shape = x;
}

void batchnorm_kernel(const KernelArgs& k) {
  const Node& n = k.node;
  const Shape& xs = *k.in[0].shape;
  const int64_t batch = xs[0], ch = xs[1], spatial = prod(xs, 2, xs.size());
  const float* x = k.in[0].as<float>();
  const float *scale = k.in[1].as<float>(), *bias = k.in[2].as<float>(), *mean = k.in[3].as<float>(),
              *var = k.in[4].as<float>();
  float* out = k.out[0].as<float>();
  const int threads = k.opt.threads;
  const int64_t planes = batch * ch;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && planes * spatial > 16384)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % ch;
    const float a = scale[c] / std::sqrt(var[c] + n.epsilon);
    const float mu = mean[c], b = bias[c];
    const float* px = x + p * spatial;
    float* py = out + p * spatial;
    for (int64_t j = 0; j < spatial; ++j) py[j] = (px[j] - mu) * a + b;
  }
}

// ---- LayerNormalization ----

void parse_layernorm(const OnnxNode& on, Node& n) {
  n.axis = on.get_int("axis", -1);
  n.epsilon = on.get_float("epsilon", 1e-5f);
}

void infer_layernorm(const InferArgs& a, std::vector<OutInfo>& out) {
  const Shape& x = a.shape(0);
  for (size_t k = 0; k < 3; ++k) a.want_type(k, DType::f32);
  if (x.empty()) a.fail("input X is a scalar; LayerNormalization needs rank >= 1");
  const size_t ax = static_cast<size_t>(a.axis(a.node.axis, x.size(), 0, "axis"));
  const Shape norm(x.begin() + static_cast<std::ptrdiff_t>(ax), x.end());
  const int64_t d = shape_numel(norm);
  for (size_t k = 1; k < 3; ++k) {
    if (!a.has(k)) continue;
    const Shape& p = a.shape(k);
    // Scale/bias cover the normalized dims (leading 1s allowed) or are one element.
    Shape stripped = p;
    while (stripped.size() > norm.size() && stripped.front() == 1) stripped.erase(stripped.begin());
    Shape tail = norm;
    while (tail.size() > stripped.size()) tail.erase(tail.begin());
    bool ok = shape_numel(p) == 1 || (shape_numel(p) == d && stripped == tail && stripped.size() == norm.size());
    if (!ok)
      a.fail(std::string("input ") + (k == 1 ? "Scale" : "B") + " has shape " + shape_str(p) +
             " but the normalized dims of X " + shape_str(x) + " (axis " + std::to_string(a.node.axis) +
             ") are " + shape_str(norm));
  }
  out[0].dtype = DType::f32;
  out[0].shape = x;
}

void layernorm_kernel(const KernelArgs& k) {
  const Node& n = k.node;
  const Shape& xs = *k.in[0].shape;
  const size_t ax = static_cast<size_t>(n.axis < 0 ? n.axis + static_cast<int64_t>(xs.size()) : n.axis);
  const int64_t rows = prod(xs, 0, ax), d = prod(xs, ax, xs.size());
  if (d == 0) return;
  const float* x = k.in[0].as<float>();
  const float* scale = k.in[1].as<float>();
  const float* bias = k.in.size() > 2 && k.in[2].present() ? k.in[2].as<float>() : nullptr;
  const bool scale1 = k.in[1].numel() == 1 && d != 1;
  const bool bias1 = bias && k.in[2].numel() == 1 && d != 1;
  const float eps = n.epsilon;
  float* out = k.out[0].as<float>();
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows > 16)
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

}  // namespace

void register_normalization_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "BatchNormalization";
    d.min_inputs = d.max_inputs = 5;
    d.parse = parse_batchnorm;
    d.infer = infer_batchnorm;
    d.cpu = batchnorm_kernel;
    d.types = "float32";
    d.notes = "inference form only: scale, B, mean and var constant; training_mode=1, spatial=0 and the "
              "running mean/var outputs refused";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "LayerNormalization";
    d.since = 17;
    d.min_inputs = 2;
    d.max_inputs = 3;
    d.parse = parse_layernorm;
    d.infer = infer_layernorm;
    d.cpu = layernorm_kernel;
    d.types = "float32";
    d.notes = "Mean and InvStdDev outputs refused; stash_type ignored (statistics in double)";
    r.add(std::move(d));
  }
}

}  // namespace mgi
