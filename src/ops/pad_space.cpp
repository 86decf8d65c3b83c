// Pad (constant, reflect, edge, wrap; opset 2 attributes, opset 11+ inputs,
// opset 18+ axes), DepthToSpace (DCR, CRD) and SpaceToDepth. Every element
// type: kernels move element bytes.
#include <algorithm>
#include <cstring>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

// ---------------------------------------------------------------- Pad

void parse_pad(const OnnxNode& on, Node& n) {
  n.mode = on.get_string("mode", "constant");
  if (n.mode != "constant" && n.mode != "reflect" && n.mode != "edge" && !(n.mode == "wrap" && n.opset >= 19))
    on.fail("mode '" + n.mode + "' is not supported (constant, reflect, edge" + (n.opset >= 19 ? ", wrap)" : ")"));
  if (n.opset < 11) {
    n.ints = on.get_ints("pads");
    n.value = on.get_float("value", 0.0f);
  }
}

// Begin/end pads for every axis of a rank-r input.
template <class Fail>
std::vector<int64_t> full_pads(size_t r, const std::vector<int64_t>& pads, const std::vector<int64_t>& axes_in,
                               Fail&& fail) {
  std::vector<int64_t> axes = axes_in;
  if (axes.empty())
    for (size_t i = 0; i < r; ++i) axes.push_back(static_cast<int64_t>(i));
  if (pads.size() != 2 * axes.size())
    fail("pads has " + std::to_string(pads.size()) + " entries; expected " + std::to_string(2 * axes.size()));
  std::vector<int64_t> p(2 * r, 0);
  for (size_t j = 0; j < axes.size(); ++j) {
    const int64_t a = axes[j] < 0 ? axes[j] + static_cast<int64_t>(r) : axes[j];
    if (a < 0 || a >= static_cast<int64_t>(r)) fail("axes entry " + std::to_string(axes[j]) + " is out of range");
    p[static_cast<size_t>(a)] = pads[j];
    p[r + static_cast<size_t>(a)] = pads[axes.size() + j];
  }
  return p;
}

void infer_pad(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  std::vector<int64_t> pads = a.node.ints, axes;
  if (a.node.opset >= 11) {
    pads = int_list(a, 1, "pads", false);
    if (a.has(2) && a.type(2) != a.type(0))
      a.fail(std::string("constant_value has type ") + dtype_name(a.type(2)) + " but data has " + dtype_name(a.type(0)));
    if (a.has(2) && shape_numel(a.shape(2)) != 1) a.fail("constant_value must hold one element");
    if (a.has(3)) axes = int_list(a, 3, "axes", true);
  } else if (a.type(0) != DType::f32) {
    a.fail("Pad before opset 11 supports float32 data only");
  }
  const std::vector<int64_t> p = full_pads(x.size(), pads, axes, [&](const std::string& m) { a.fail(m); });
  Shape y = x;
  for (size_t i = 0; i < x.size(); ++i) {
    y[i] = x[i] + p[i] + p[x.size() + i];
    if (y[i] < 0) a.fail("pads " + shape_str(pads) + " remove more than input " + shape_str(x) + " holds");
    if (y[i] > 0 && x[i] == 0 && a.node.mode != "constant")
      a.fail("mode '" + a.node.mode + "' cannot pad an empty axis of input " + shape_str(x));
  }
  out[0] = {a.type(0), y};
}

// Source index along an axis of length n for padded position i (already shifted by the begin pad); -1 = constant.
int64_t source_index(const std::string& mode, int64_t i, int64_t n) {
  if (i >= 0 && i < n) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return i < 0 ? 0 : n - 1;
  if (mode == "wrap") return ((i % n) + n) % n;
  // reflect: mirror about the first and last elements (period 2 (n - 1)).
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  int64_t m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

void cpu_pad(const KernelArgs& k) {
  const Node& n = k.node;
  const Shape& xs = *k.in[0].shape;
  const Shape& ys = *k.out[0].shape;
  const size_t r = xs.size();
  std::vector<int64_t> pads = n.ints, axes;
  if (n.opset >= 11) {
    pads = int_list(k.in[1]);
    if (k.in.size() > 3 && k.in[3].present()) axes = int_list(k.in[3]);
  }
  const std::vector<int64_t> p = full_pads(r, pads, axes, [](const std::string& m) { MGI_ASSERT(false, m); });
  const size_t es = dtype_size(k.in[0].dtype);
  // The constant as element bytes.
  uint64_t cbytes = 0;
  if (n.opset < 11) {
    const float v = static_cast<float>(n.value);
    std::memcpy(&cbytes, &v, sizeof v);
  } else if (k.in.size() > 2 && k.in[2].present()) {
    std::memcpy(&cbytes, k.in[2].data, es);
  }
  const int64_t total = shape_numel(ys);
  if (total == 0) return;
  if (r == 0) {
    std::memcpy(k.out[0].data, k.in[0].data, es);
    return;
  }
  std::vector<std::vector<int64_t>> map(r);
  for (size_t i = 0; i < r; ++i) {
    map[i].resize(static_cast<size_t>(ys[i]));
    for (int64_t o = 0; o < ys[i]; ++o) map[i][static_cast<size_t>(o)] = source_index(n.mode, o - p[i], xs[i]);
  }
  std::vector<int64_t> strides(r, 1);
  for (size_t i = r; i-- > 1;) strides[i - 1] = strides[i] * xs[i];
  const int64_t inner = ys[r - 1], rows = total / inner;
  by_size(es, [&](auto tag) {
    using T = decltype(tag);
    const T* x = k.in[0].as<T>();
    T* y = k.out[0].as<T>();
    T c;
    std::memcpy(&c, &cbytes, sizeof c);
    const std::vector<int64_t>& last = map[r - 1];
    for (int64_t row = 0; row < rows; ++row) {
      int64_t rem = row, off = 0;
      bool constant = false;
      for (size_t i = r - 1; i-- > 0;) {
        const int64_t o = rem % ys[i];
        rem /= ys[i];
        const int64_t s = map[i][static_cast<size_t>(o)];
        if (s < 0) constant = true;
        off += s * strides[i];
      }
      T* yr = y + row * inner;
      if (constant) {
        std::fill(yr, yr + inner, c);
        continue;
      }
      const T* xr = x + off;
      for (int64_t o = 0; o < inner; ++o) {
        const int64_t s = last[static_cast<size_t>(o)];
        yr[o] = s < 0 ? c : xr[s];
      }
    }
  });
}

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

void parse_space(const OnnxNode& on, Node& n) {
  n.blocksize = on.get_int("blocksize", 0);  // required: checked by inference (make_node parses no attributes)
  if (on.has("blocksize") && n.blocksize < 1) on.fail("blocksize " + std::to_string(n.blocksize) + " must be positive");
  n.mode = on.get_string("mode", "DCR");
  if (on.op_type() == "DepthToSpace" && n.mode != "DCR" && n.mode != "CRD")
    on.fail("mode '" + n.mode + "' is not DCR or CRD");
}

void infer_depth_to_space(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const int64_t b = a.node.blocksize;
  if (b < 1) a.fail("attribute 'blocksize' is required");
  if (x.size() != 4 || x[1] % (b * b) != 0)
    a.fail("input has shape " + shape_str(x) + "; expected [N, C, H, W] with C divisible by blocksize^2 (" +
           std::to_string(b * b) + ")");
  out[0] = {a.type(0), {x[0], x[1] / (b * b), x[2] * b, x[3] * b}};
}

void infer_space_to_depth(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  const Shape& x = a.shape(0);
  const int64_t b = a.node.blocksize;
  if (b < 1) a.fail("attribute 'blocksize' is required");
  if (x.size() != 4 || x[2] % b != 0 || x[3] % b != 0)
    a.fail("input has shape " + shape_str(x) + "; expected [N, C, H, W] with H and W divisible by blocksize " +
           std::to_string(b));
  out[0] = {a.type(0), {x[0], x[1] * b * b, x[2] / b, x[3] / b}};
}

void cpu_depth_to_space(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const int64_t b = k.node.blocksize, c = x[1] / (b * b);
  Shape six;
  std::vector<int64_t> perm;
  if (k.node.mode == "DCR") {
    six = {x[0], b, b, c, x[2], x[3]};
    perm = {0, 3, 4, 1, 5, 2};
  } else {
    six = {x[0], c, b, b, x[2], x[3]};
    perm = {0, 1, 4, 2, 5, 3};
  }
  transpose_bytes(perm, six, dtype_size(k.in[0].dtype), k.in[0].data, k.out[0].data, k.opt.threads);
}

void cpu_space_to_depth(const KernelArgs& k) {
  const Shape& x = *k.in[0].shape;
  const int64_t b = k.node.blocksize;
  const Shape six{x[0], x[1], x[2] / b, b, x[3] / b, b};
  transpose_bytes({0, 3, 5, 1, 2, 4}, six, dtype_size(k.in[0].dtype), k.in[0].data, k.out[0].data, k.opt.threads);
}

}  // namespace

void register_pad_space_ops(OpRegistry& r) {
  {
    OpDef d;
    d.name = "Pad";
    d.since = 2;
    d.until = 10;
    d.parse = parse_pad;
    d.infer = infer_pad;
    d.cpu = cpu_pad;
    d.types = "float32";
    d.notes = "pads and value attributes; constant, reflect, edge; negative pads crop";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "Pad";
    d.since = 11;
    d.min_inputs = 2;
    d.max_inputs = 4;
    d.parse = parse_pad;
    d.infer = infer_pad;
    d.cpu = cpu_pad;
    d.types = "all";
    d.notes = "pads (host-known), constant_value, axes (18); constant, reflect, edge, wrap (19); negative pads crop";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "DepthToSpace";
    d.since = 1;
    d.parse = parse_space;
    d.infer = infer_depth_to_space;
    d.cpu = cpu_depth_to_space;
    d.types = "all";
    d.notes = "DCR and CRD";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "SpaceToDepth";
    d.since = 1;
    d.parse = parse_space;
    d.infer = infer_space_to_depth;
    d.cpu = cpu_space_to_depth;
    d.types = "all";
    r.add(std::move(d));
  }
}

}  // namespace mgi
