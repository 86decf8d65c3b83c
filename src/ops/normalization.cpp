// BatchNormalization (inference form), LayerNormalization,
// InstanceNormalization, GroupNormalization, LRN and LpNormalization (one file
// over 400 lines: they share the block statistics and the parameter checks).
// Reductions run per row (per instance, channel or group: never across the
// batch dim) in a fixed sequential order with double accumulators, so threads
// only split independent blocks and never change a block's result.
#include <algorithm>
#include <cmath>
#include <string>

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

// Mean and 1 / sqrt(var + eps) of a contiguous block, two sequential passes in double.
struct Stats {
  float mean, inv;
};
Stats block_stats(const float* px, int64_t len, float eps) {
  double sum = 0.0;
  for (int64_t j = 0; j < len; ++j) sum += px[j];
  const double mean = sum / static_cast<double>(len);
  double sq = 0.0;
  for (int64_t j = 0; j < len; ++j) {
    const double c = px[j] - mean;
    sq += c * c;
  }
  return {static_cast<float>(mean), static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(len) + eps))};
}

// X of shape [N, C, ...] with per-channel (or per-group: `params`) 1-D parameters.
void check_nc(const InferArgs& a, size_t min_rank) {
  const Shape& x = a.shape(0);
  for (size_t k = 0; k < a.count(); ++k) a.want_type(k, DType::f32);
  if (x.size() < min_rank)
    a.fail("input X has shape " + shape_str(x) + "; expected [N, C" + (min_rank > 2 ? ", D1, ...]" : ", ...]"));
}

void check_param(const InferArgs& a, size_t k, const char* name, int64_t want, const char* per) {
  const Shape& p = a.shape(k);
  if (p.size() != 1 || p[0] != want)
    a.fail(std::string("input ") + name + " has shape " + shape_str(p) + "; expected [" + std::to_string(want) +
           "] (one value per " + per + " of X " + shape_str(a.shape(0)) + ")");
}

// ---- InstanceNormalization ----

void parse_instancenorm(const OnnxNode& on, Node& n) { n.epsilon = on.get_float("epsilon", 1e-5f); }

void infer_instancenorm(const InferArgs& a, std::vector<OutInfo>& out) {
  check_nc(a, 2);
  const Shape& x = a.shape(0);
  check_param(a, 1, "scale", x[1], "channel");
  check_param(a, 2, "B", x[1], "channel");
  out[0] = {DType::f32, x};
}

void instancenorm_kernel(const KernelArgs& k) {
  const Shape& xs = *k.in[0].shape;
  const int64_t ch = xs[1], planes = xs[0] * ch, spatial = prod(xs, 2, xs.size());
  if (planes == 0 || spatial == 0) return;
  const float* x = k.in[0].as<float>();
  const float *scale = k.in[1].as<float>(), *bias = k.in[2].as<float>();
  float* out = k.out[0].as<float>();
  const float eps = k.node.epsilon;
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && planes * spatial > 16384)
  for (int64_t p = 0; p < planes; ++p) {
    const float* px = x + p * spatial;
    float* py = out + p * spatial;
    const Stats st = block_stats(px, spatial, eps);
    const float sc = scale[p % ch], b = bias[p % ch];
    for (int64_t j = 0; j < spatial; ++j) py[j] = (px[j] - st.mean) * st.inv * sc + b;
  }
}

// ---- GroupNormalization ----
// Opset 18: scale and bias hold one value per group; opset 21: one per channel.

bool group_params_per_channel(const Node& n) { return n.opset >= 21; }

void parse_groupnorm(const OnnxNode& on, Node& n) {
  n.epsilon = on.get_float("epsilon", 1e-5f);
  const int64_t g = on.need_int("num_groups");
  if (g <= 0) on.fail("attribute 'num_groups' must be positive, not " + std::to_string(g));
  n.ints = {g};  // num_groups
}

void infer_groupnorm(const InferArgs& a, std::vector<OutInfo>& out) {
  check_nc(a, 2);
  const Shape& x = a.shape(0);
  const int64_t g = a.node.ints.at(0);
  if (x[1] % g != 0)
    a.fail("X " + shape_str(x) + " has " + std::to_string(x[1]) + " channels, not divisible by num_groups " +
           std::to_string(g));
  const bool per_c = group_params_per_channel(a.node);
  check_param(a, 1, "scale", per_c ? x[1] : g, per_c ? "channel" : "group");
  check_param(a, 2, "bias", per_c ? x[1] : g, per_c ? "channel" : "group");
  out[0] = {DType::f32, x};
}

void groupnorm_kernel(const KernelArgs& k) {
  const Shape& xs = *k.in[0].shape;
  const int64_t ch = xs[1], g = k.node.ints.at(0), per = ch / g, spatial = prod(xs, 2, xs.size());
  const int64_t blocks = xs[0] * g, len = per * spatial;
  if (blocks == 0 || len == 0) return;
  const float* x = k.in[0].as<float>();
  const float *scale = k.in[1].as<float>(), *bias = k.in[2].as<float>();
  float* out = k.out[0].as<float>();
  const bool per_c = group_params_per_channel(k.node);
  const float eps = k.node.epsilon;
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && blocks * len > 16384)
  for (int64_t b = 0; b < blocks; ++b) {
    const float* px = x + b * len;
    float* py = out + b * len;
    const Stats st = block_stats(px, len, eps);
    const int64_t grp = b % g;
    for (int64_t c = 0; c < per; ++c) {
      const int64_t q = per_c ? grp * per + c : grp;
      const float sc = scale[q], bi = bias[q];
      for (int64_t j = c * spatial; j < (c + 1) * spatial; ++j) py[j] = (px[j] - st.mean) * st.inv * sc + bi;
    }
  }
}

// ---- LRN ----
// square_sum[n, c, s] = sum of X[n, i, s]^2 over i in [c - floor((size-1)/2), c + ceil((size-1)/2)]
// (clipped to the channels), y = x / (bias + alpha / size * square_sum)^beta. alpha and beta in
// Node::alpha/beta, bias in Node::value, size in Node::ints[0].

void parse_lrn(const OnnxNode& on, Node& n) {
  n.alpha = on.get_float("alpha", 1e-4f);
  n.beta = on.get_float("beta", 0.75f);
  n.value = on.get_float("bias", 1.0f);
  const int64_t size = on.need_int("size");
  if (size <= 0) on.fail("attribute 'size' must be positive, not " + std::to_string(size));
  n.ints = {size};
}

void infer_lrn(const InferArgs& a, std::vector<OutInfo>& out) {
  check_nc(a, 2);
  out[0] = {DType::f32, a.shape(0)};
}

void lrn_kernel(const KernelArgs& k) {
  const Node& n = k.node;
  const Shape& xs = *k.in[0].shape;
  const int64_t ch = xs[1], planes = xs[0] * ch, spatial = prod(xs, 2, xs.size());
  if (planes == 0 || spatial == 0) return;
  const int64_t size = n.ints.at(0), before = (size - 1) / 2, after = size / 2;
  const double scale = static_cast<double>(n.alpha) / static_cast<double>(size), bias = n.value,
               beta = n.beta;
  const float* x = k.in[0].as<float>();
  float* out = k.out[0].as<float>();
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && planes * spatial * size > 16384)
  for (int64_t p = 0; p < planes; ++p) {
    const int64_t c = p % ch, base = p - c;  // plane of channel 0 of this instance
    const int64_t lo = std::max<int64_t>(0, c - before), hi = std::min<int64_t>(ch - 1, c + after);
    for (int64_t j = 0; j < spatial; ++j) {
      double sq = 0.0;
      for (int64_t i = lo; i <= hi; ++i) {
        const double v = x[(base + i) * spatial + j];
        sq += v * v;
      }
      out[p * spatial + j] = static_cast<float>(x[p * spatial + j] / std::pow(bias + scale * sq, beta));
    }
  }
}

// ---- LpNormalization ----
// y = x / ||x||_p along `axis` (p = 1 or 2, in Node::ints[0]); a zero norm gives zeros
// (as onnxruntime; the spec leaves it open).

void parse_lpnorm(const OnnxNode& on, Node& n) {
  n.axis = on.get_int("axis", -1);
  const int64_t p = on.get_int("p", 2);
  if (p != 1 && p != 2) on.fail("attribute 'p' must be 1 or 2, not " + std::to_string(p));
  n.ints = {p};
}

void infer_lpnorm(const InferArgs& a, std::vector<OutInfo>& out) {
  a.want_type(0, DType::f32);
  const Shape& x = a.shape(0);
  if (x.empty()) a.fail("input is a scalar; LpNormalization needs rank >= 1");
  a.axis(a.node.axis, x.size(), 0, "axis");
  out[0] = {DType::f32, x};
}

void lpnorm_kernel(const KernelArgs& k) {
  const Shape& xs = *k.in[0].shape;
  const int64_t rank = static_cast<int64_t>(xs.size());
  const size_t ax = static_cast<size_t>(k.node.axis < 0 ? k.node.axis + rank : k.node.axis);
  const int64_t outer = prod(xs, 0, ax), m = xs[ax], inner = prod(xs, ax + 1, xs.size());
  const int64_t vecs = outer * inner;
  if (vecs == 0 || m == 0) return;
  const bool p2 = k.node.ints.at(0) == 2;
  const float* x = k.in[0].as<float>();
  float* out = k.out[0].as<float>();
  const int threads = k.opt.threads;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && vecs * m > 16384)
  for (int64_t v = 0; v < vecs; ++v) {
    const int64_t o = v / inner, i = v % inner;
    const float* px = x + o * m * inner + i;
    float* py = out + o * m * inner + i;
    double sum = 0.0;
    for (int64_t j = 0; j < m; ++j) {
      const double e = px[j * inner];
      sum += p2 ? e * e : std::fabs(e);
    }
    const double norm = p2 ? std::sqrt(sum) : sum;
    for (int64_t j = 0; j < m; ++j)
      py[j * inner] = norm == 0.0 ? 0.0f : static_cast<float>(px[j * inner] / norm);
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
  {
    OpDef d;
    d.name = "InstanceNormalization";
    d.since = 6;  // opset 1 carried consumed_inputs: not covered
    d.min_inputs = d.max_inputs = 3;
    d.parse = parse_instancenorm;
    d.infer = infer_instancenorm;
    d.cpu = instancenorm_kernel;
    d.types = "float32";
    d.notes = "statistics per instance and channel in double";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "GroupNormalization";
    d.since = 18;
    d.min_inputs = d.max_inputs = 3;
    d.parse = parse_groupnorm;
    d.infer = infer_groupnorm;
    d.cpu = groupnorm_kernel;
    d.types = "float32";
    d.notes = "opset 18: scale and bias per group; opset 21: per channel; stash_type ignored (statistics in "
              "double); channels not divisible by num_groups refused";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "LRN";
    d.min_inputs = d.max_inputs = 1;
    d.parse = parse_lrn;
    d.infer = infer_lrn;
    d.cpu = lrn_kernel;
    d.types = "float32";
    d.notes = "window sums and the power in double";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "LpNormalization";
    d.min_inputs = d.max_inputs = 1;
    d.parse = parse_lpnorm;
    d.infer = infer_lpnorm;
    d.cpu = lpnorm_kernel;
    d.types = "float32";
    d.notes = "p = 1 or 2 (others refused); a zero norm gives zeros, as onnxruntime";
    r.add(std::move(d));
  }
}

}  // namespace mgi
