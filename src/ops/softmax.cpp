// Softmax and LogSoftmax. Reductions run per line in a fixed sequential order
// (double accumulators), so threads only split lines and never change a
// line's result. Before opset 13 both normalize the input flattened to 2-D at
// `axis` (whole rows); from 13 on, along `axis` alone.
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

void softmax_kernel(const KernelArgs& a) {
  const Node& n = a.node;
  const Shape& shape = *a.in[0].shape;
  const float* x = a.in[0].as<float>();
  float* y = a.out[0].as<float>();
  const int threads = a.opt.threads;
  const size_t ax = static_cast<size_t>(n.axis < 0 ? n.axis + static_cast<int64_t>(shape.size()) : n.axis);
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
  const bool log_out = n.is("LogSoftmax");
  const int64_t lines = outer * inner;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && lines > 64)
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

void infer_softmax(const InferArgs& a, std::vector<OutInfo>& out) {
  const Shape& x = a.shape(0);
  a.want_type(0, DType::f32);
  if (x.empty()) a.fail("input is a scalar; expected rank >= 1");
  a.axis(a.node.axis, x.size(), 0, "axis");
  out[0].dtype = DType::f32;
  out[0].shape = x;
}

void parse_softmax(const OnnxNode& on, Node& n) {
  n.softmax_2d = n.opset < 13;
  n.axis = on.get_int("axis", n.softmax_2d ? 1 : -1);
}

void add_softmax(OpRegistry& r, const char* name) {
  OpDef d;
  d.name = name;
  d.min_inputs = d.max_inputs = 1;
  d.parse = parse_softmax;
  d.infer = infer_softmax;
  d.cpu = softmax_kernel;
  d.types = "float32";
  d.notes = "opset < 13: normalizes the input flattened to 2-D at axis (default 1); from 13: along axis (default -1)";
  r.add(std::move(d));
}

}  // namespace

void register_softmax_ops(OpRegistry& r) {
  add_softmax(r, "Softmax");
  add_softmax(r, "LogSoftmax");
}

}  // namespace mgi
