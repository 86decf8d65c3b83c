#include "spatial.hpp"

#include <algorithm>

#include "error.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

int64_t prod(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

std::string list_str(const std::vector<int64_t>& v) { return shape_str(v); }

// Fills s, d, pads defaults and checks lengths; returns "" or what is wrong.
std::string base(const Node& n, const Shape& x, const std::vector<int64_t>& kernel, Spatial& g) {
  if (x.size() < 3) return "input X has shape " + shape_str(x) + "; expected [N, C, D1, ...] with at least one spatial axis";
  g.nd = x.size() - 2;
  g.in.assign(x.begin() + 2, x.end());
  if (kernel.size() != g.nd)
    return "kernel_shape " + list_str(kernel) + " does not have one entry per spatial axis of X " + shape_str(x);
  g.k = kernel;
  g.s = n.strides.empty() ? std::vector<int64_t>(g.nd, 1) : n.strides;
  g.d = n.dilations.empty() ? std::vector<int64_t>(g.nd, 1) : n.dilations;
  if (g.s.size() != g.nd) return "strides " + list_str(n.strides) + " do not have one entry per spatial axis";
  if (g.d.size() != g.nd) return "dilations " + list_str(n.dilations) + " do not have one entry per spatial axis";
  if (!n.pads.empty() && n.pads.size() != 2 * g.nd)
    return "pads " + list_str(n.pads) + " do not have two entries per spatial axis";
  g.pb.assign(g.nd, 0);
  g.pe.assign(g.nd, 0);
  for (size_t i = 0; i < g.nd; ++i) {
    if (g.k[i] < 1 || g.s[i] < 1 || g.d[i] < 1)
      return "kernel " + list_str(g.k) + ", strides " + list_str(g.s) + " and dilations " + list_str(g.d) +
             " must be positive";
    if (!n.pads.empty() && n.auto_pad == "NOTSET") {
      g.pb[i] = n.pads[i];
      g.pe[i] = n.pads[i + g.nd];
    }
  }
  return "";
}

std::string forward(const Node& n, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode, Spatial& g) {
  std::string e = base(n, x, kernel, g);
  if (!e.empty()) return e;
  g.out.assign(g.nd, 0);
  for (size_t i = 0; i < g.nd; ++i) {
    const int64_t dk = (g.k[i] - 1) * g.d[i] + 1;
    if (n.auto_pad == "SAME_UPPER" || n.auto_pad == "SAME_LOWER") {
      g.out[i] = (g.in[i] + g.s[i] - 1) / g.s[i];
      const int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * g.s[i] + dk - g.in[i]);
      const int64_t small = total / 2;
      g.pb[i] = n.auto_pad == "SAME_UPPER" ? small : total - small;
      g.pe[i] = total - g.pb[i];
      continue;
    }
    const int64_t span = g.in[i] + g.pb[i] + g.pe[i] - dk;
    if (span < 0)
      return "the window (kernel " + list_str(g.k) + ", dilations " + list_str(g.d) + ") is larger than the padded input " +
             shape_str(x);
    if (ceil_mode && n.auto_pad == "NOTSET") {
      g.out[i] = (span + g.s[i] - 1) / g.s[i] + 1;
      // The last window must start inside the input or its begin padding.
      if ((g.out[i] - 1) * g.s[i] >= g.in[i] + g.pb[i]) --g.out[i];
    } else {
      g.out[i] = span / g.s[i] + 1;
    }
  }
  return "";
}

std::string transpose(const Node& n, const Shape& x, const std::vector<int64_t>& kernel, Spatial& g) {
  std::string e = base(n, x, kernel, g);
  if (!e.empty()) return e;
  std::vector<int64_t> op = n.output_padding.empty() ? std::vector<int64_t>(g.nd, 0) : n.output_padding;
  if (op.size() != g.nd) return "output_padding " + list_str(n.output_padding) + " does not have one entry per spatial axis";
  std::vector<int64_t> want;
  if (!n.output_shape.empty()) {
    if (n.output_shape.size() == g.nd) want = n.output_shape;
    else if (n.output_shape.size() == g.nd + 2) want.assign(n.output_shape.begin() + 2, n.output_shape.end());
    else return "output_shape " + list_str(n.output_shape) + " does not have one entry per spatial axis";
  }
  const bool same = n.auto_pad == "SAME_UPPER" || n.auto_pad == "SAME_LOWER";
  g.out.assign(g.nd, 0);
  for (size_t i = 0; i < g.nd; ++i) {
    if (op[i] < 0 || op[i] >= std::max(g.s[i], g.d[i]))
      return "output_padding " + list_str(op) + " must be below the stride or the dilation of its axis";
    const int64_t dk = (g.k[i] - 1) * g.d[i] + 1;
    const int64_t full = g.s[i] * (g.in[i] - 1) + op[i] + dk;
    if (!want.empty() || same) {
      g.out[i] = !want.empty() ? want[i] : g.in[i] * g.s[i];
      const int64_t total = full - g.out[i];
      if (total < 0)
        return "output_shape " + list_str(want) + " is larger than the full transposed convolution";
      const int64_t half = total / 2;
      // ONNX: SAME_UPPER puts the odd unit at the end, otherwise at the begin.
      g.pb[i] = n.auto_pad == "SAME_UPPER" ? half : total - half;
      g.pe[i] = total - g.pb[i];
    } else {
      g.out[i] = full - g.pb[i] - g.pe[i];
      if (g.out[i] < 1) return "pads " + list_str(n.pads) + " leave no output for input " + shape_str(x);
    }
  }
  return "";
}

}  // namespace

int64_t Spatial::in_size() const { return prod(in); }
int64_t Spatial::out_size() const { return prod(out); }
int64_t Spatial::k_size() const { return prod(k); }

void parse_spatial(const OnnxNode& on, Node& n) {
  n.kernel_shape = on.get_ints("kernel_shape");
  n.strides = on.get_ints("strides");
  n.pads = on.get_ints("pads");
  n.dilations = on.get_ints("dilations");
  n.auto_pad = on.get_string("auto_pad", "NOTSET");
  if (n.auto_pad != "NOTSET" && n.auto_pad != "SAME_UPPER" && n.auto_pad != "SAME_LOWER" && n.auto_pad != "VALID")
    on.fail("auto_pad '" + n.auto_pad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  for (int64_t p : n.pads)
    if (p < 0) on.fail("negative pads " + list_str(n.pads) + " are not supported");
  for (int64_t v : n.kernel_shape)
    if (v < 1) on.fail("kernel_shape " + list_str(n.kernel_shape) + " must be positive");
  for (int64_t v : n.strides)
    if (v < 1) on.fail("strides " + list_str(n.strides) + " must be positive");
  for (int64_t v : n.dilations)
    if (v < 1) on.fail("dilations " + list_str(n.dilations) + " must be positive");
}

Spatial resolve_forward(const InferArgs& a, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode) {
  Spatial g;
  const std::string e = forward(a.node, x, kernel, ceil_mode, g);
  if (!e.empty()) a.fail(e);
  return g;
}

Spatial resolve_transpose(const InferArgs& a, const Shape& x, const std::vector<int64_t>& kernel) {
  Spatial g;
  const std::string e = transpose(a.node, x, kernel, g);
  if (!e.empty()) a.fail(e);
  return g;
}

Spatial spatial_of(const Node& n, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode) {
  Spatial g;
  const std::string e = forward(n, x, kernel, ceil_mode, g);
  MGI_ASSERT(e.empty(), e);
  return g;
}

Spatial spatial_of_transpose(const Node& n, const Shape& x, const std::vector<int64_t>& kernel) {
  Spatial g;
  const std::string e = transpose(n, x, kernel, g);
  MGI_ASSERT(e.empty(), e);
  return g;
}

Geo3 geo3(const Spatial& sp) {
  Geo3 r;
  const size_t lead = 3 - sp.nd;
  for (size_t i = 0; i < 3; ++i) {
    const bool real = i >= lead;
    const size_t j = real ? i - lead : 0;
    r.in[i] = real ? sp.in[j] : 1;
    r.out[i] = real ? sp.out[j] : 1;
    r.k[i] = real ? sp.k[j] : 1;
    r.s[i] = real ? sp.s[j] : 1;
    r.d[i] = real ? sp.d[j] : 1;
    r.pb[i] = real ? sp.pb[j] : 0;
    r.pe[i] = real ? sp.pe[j] : 0;
  }
  r.IN = r.in[0] * r.in[1] * r.in[2];
  r.OUT = r.out[0] * r.out[1] * r.out[2];
  r.KK = r.k[0] * r.k[1] * r.k[2];
  return r;
}

}  // namespace mgi
