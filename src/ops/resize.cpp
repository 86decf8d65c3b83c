// Resize (opsets 10, 11-12, 13-17, 18, 19+) and Upsample (opsets 9-10), float32.
// Modes nearest (nearest_mode round_prefer_floor / round_prefer_ceil / floor /
// ceil), linear (N-linear) and cubic (cubic_coeff_a, exclude_outside);
// coordinate_transformation_mode half_pixel, half_pixel_symmetric,
// pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn,
// tf_crop_and_resize (roi, extrapolation_value). Scales, sizes and roi are
// host-known values. Each axis gets a list of taps (input index, weight) per
// output index, computed in float as the spec's formulas read; an output
// element is the sum over the product of its axes' taps, in a fixed order
// (double accumulation), so it depends on nothing but the shapes.
#include <algorithm>
#include <cmath>

#include "error.hpp"
#include "layout.hpp"
#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

// Input slots of scales / sizes / roi for this node's opset (-1 = none).
struct Slots {
  int roi = -1, scales = -1, sizes = -1;
};
Slots slots(const Node& n) {
  if (n.is("Upsample") || n.opset < 11) return {-1, 1, -1};
  return {1, 2, 3};
}

void parse_resize(const OnnxNode& on, Node& n) {
  const bool legacy = on.op_type() == "Upsample" || n.opset < 11;
  n.mode = on.get_string("mode", "nearest");
  if (n.mode == "bilinear" && on.op_type() == "Upsample") n.mode = "linear";
  if (n.mode != "nearest" && n.mode != "linear" && !(n.mode == "cubic" && !legacy))
    on.fail("mode '" + n.mode + "' is not supported (nearest, linear" + std::string(legacy ? "" : ", cubic") + ")");
  // Upsample and Resize-10: asymmetric coordinates, nearest rounds down.
  n.coord_mode = legacy ? "asymmetric" : on.get_string("coordinate_transformation_mode", "half_pixel");
  n.nearest_mode = legacy ? "floor" : on.get_string("nearest_mode", "round_prefer_floor");
  static const char* const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                       "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  if (std::find(std::begin(coords), std::end(coords), n.coord_mode) == std::end(coords))
    on.fail("coordinate_transformation_mode '" + n.coord_mode + "' is not supported");
  static const char* const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  if (std::find(std::begin(nearest), std::end(nearest), n.nearest_mode) == std::end(nearest))
    on.fail("nearest_mode '" + n.nearest_mode + "' is not supported");
  n.cubic_a = on.get_float("cubic_coeff_a", -0.75f);
  n.exclude_outside = on.get_int("exclude_outside", 0) != 0;
  n.extrapolation = on.get_float("extrapolation_value", 0.0f);
  if (on.get_int("antialias", 0) != 0) on.fail("antialias=1 is not supported");
  n.aspect_policy = on.get_string("keep_aspect_ratio_policy", "stretch");
  if (n.aspect_policy != "stretch" && n.aspect_policy != "not_larger" && n.aspect_policy != "not_smaller")
    on.fail("keep_aspect_ratio_policy '" + n.aspect_policy + "' is not supported");
  n.ints = on.get_ints("axes");
  if (on.op_type() == "Upsample" && on.has("scales")) on.fail("the 'scales' attribute (Upsample before opset 9) is not supported");
}

// Output sizes and the scale per axis (the one the coordinate formulas use), and roi.
struct ResizePlan {
  Shape out;
  std::vector<float> scale;
  std::vector<float> roi;  // [start..., end...] over every axis
};

// scales/sizes/roi as given (empty when absent); fails through `fail`.
template <class Fail>
ResizePlan make_plan(const Node& n, const Shape& x, const std::vector<float>& scales, const std::vector<int64_t>& sizes,
                     const std::vector<float>& roi_in, Fail&& fail) {
  const size_t r = x.size();
  std::vector<size_t> axes;
  if (n.ints.empty()) {
    for (size_t i = 0; i < r; ++i) axes.push_back(i);
  } else {
    for (int64_t a : n.ints) {
      const int64_t v = a < 0 ? a + static_cast<int64_t>(r) : a;
      if (v < 0 || v >= static_cast<int64_t>(r)) fail("axes entry " + std::to_string(a) + " is out of range");
      axes.push_back(static_cast<size_t>(v));
    }
  }
  ResizePlan p;
  p.out = x;
  p.scale.assign(r, 1.0f);
  if (scales.empty() == sizes.empty()) fail("exactly one of 'scales' and 'sizes' must be given");
  if (!scales.empty()) {
    if (scales.size() != axes.size())
      fail("scales has " + std::to_string(scales.size()) + " entries for " + std::to_string(axes.size()) + " axes");
    for (size_t j = 0; j < axes.size(); ++j) {
      if (!(scales[j] > 0.0f)) fail("scales must be positive");
      p.scale[axes[j]] = scales[j];
      p.out[axes[j]] = static_cast<int64_t>(std::floor(static_cast<float>(x[axes[j]]) * scales[j]));
    }
  } else {
    if (sizes.size() != axes.size())
      fail("sizes has " + std::to_string(sizes.size()) + " entries for " + std::to_string(axes.size()) + " axes");
    for (int64_t s : sizes)
      if (s < 0) fail("sizes must not be negative");
    if (n.aspect_policy == "stretch") {
      for (size_t j = 0; j < axes.size(); ++j) {
        p.out[axes[j]] = sizes[j];
        p.scale[axes[j]] = x[axes[j]] > 0 ? static_cast<float>(sizes[j]) / static_cast<float>(x[axes[j]]) : 1.0f;
      }
    } else {
      float s = n.aspect_policy == "not_larger" ? 1e30f : 0.0f;
      for (size_t j = 0; j < axes.size(); ++j) {
        const float v = static_cast<float>(sizes[j]) / static_cast<float>(x[axes[j]]);
        s = n.aspect_policy == "not_larger" ? std::min(s, v) : std::max(s, v);
      }
      for (size_t j = 0; j < axes.size(); ++j) {
        p.scale[axes[j]] = s;
        p.out[axes[j]] = static_cast<int64_t>(std::round(s * static_cast<float>(x[axes[j]])));
      }
    }
  }
  p.roi.assign(2 * r, 0.0f);
  for (size_t i = 0; i < r; ++i) p.roi[r + i] = 1.0f;
  if (n.coord_mode == "tf_crop_and_resize") {
    if (roi_in.size() != 2 * axes.size())
      fail("roi has " + std::to_string(roi_in.size()) + " entries; tf_crop_and_resize needs " +
           std::to_string(2 * axes.size()));
    for (size_t j = 0; j < axes.size(); ++j) {
      p.roi[axes[j]] = roi_in[j];
      p.roi[r + axes[j]] = roi_in[axes.size() + j];
    }
  }
  return p;
}

bool given(const InferArgs& a, int k) { return k >= 0 && a.has(static_cast<size_t>(k)) && shape_numel(a.shape(static_cast<size_t>(k))) > 0; }
bool given(const KernelArgs& a, int k) {
  return k >= 0 && static_cast<size_t>(k) < a.in.size() && a.in[static_cast<size_t>(k)].present() &&
         a.in[static_cast<size_t>(k)].numel() > 0;
}

std::vector<float> floats_of(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = t.data<float>()[i];
  return v;
}

void infer_resize(const InferArgs& a, std::vector<OutInfo>& out) {
  check_inputs(a);
  a.want_type(0, DType::f32);
  const Slots s = slots(a.node);
  std::vector<float> scales, roi;
  std::vector<int64_t> sizes;
  if (given(a, s.scales)) {
    const Tensor& t = a.value(static_cast<size_t>(s.scales), "scales");
    if (t.dtype != DType::f32) a.fail(std::string("input 'scales' has type ") + dtype_name(t.dtype) + "; expected float32");
    scales = floats_of(t);
  }
  if (given(a, s.sizes)) sizes = int_list(a, static_cast<size_t>(s.sizes), "sizes", false);
  if (given(a, s.roi) && a.node.coord_mode == "tf_crop_and_resize") {
    const Tensor& t = a.value(static_cast<size_t>(s.roi), "roi");
    if (t.dtype != DType::f32) a.fail(std::string("input 'roi' has type ") + dtype_name(t.dtype) + "; expected float32");
    roi = floats_of(t);
  }
  const ResizePlan p = make_plan(a.node, a.shape(0), scales, sizes, roi, [&](const std::string& m) { a.fail(m); });
  out[0] = {DType::f32, p.out};
}

// Taps of one axis: for each output index, up to 4 (index, weight) pairs, or none when outside (extrapolate).
struct AxisTaps {
  std::vector<int64_t> idx;
  std::vector<double> w;
  std::vector<int> count;  // per output index; -1 = extrapolation value
  static constexpr int kMax = 4;
};

float original_coord(const Node& n, float x, float scale, int64_t in, int64_t out, float roi_start, float roi_end) {
  const std::string& m = n.coord_mode;
  const float len_in = static_cast<float>(in), len_out = static_cast<float>(out);
  if (m == "half_pixel") return (x + 0.5f) / scale - 0.5f;
  if (m == "half_pixel_symmetric") {
    const float adjustment = len_out / (scale * len_in);
    const float center = len_in / 2.0f;
    const float offset = center * (1.0f - adjustment);
    return offset + (x + 0.5f) / scale - 0.5f;
  }
  if (m == "pytorch_half_pixel") return out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
  if (m == "align_corners") return out == 1 ? 0.0f : x * (len_in - 1.0f) / (len_out - 1.0f);
  if (m == "asymmetric") return x / scale;
  if (m == "tf_half_pixel_for_nn") return (x + 0.5f) / scale;
  // tf_crop_and_resize
  return out > 1 ? roi_start * (len_in - 1.0f) + x * (roi_end - roi_start) * (len_in - 1.0f) / (len_out - 1.0f)
                 : 0.5f * (roi_start + roi_end) * (len_in - 1.0f);
}

AxisTaps axis_taps(const Node& n, int64_t in, int64_t out, float scale, float roi_start, float roi_end) {
  AxisTaps t;
  t.idx.assign(static_cast<size_t>(out * AxisTaps::kMax), 0);
  t.w.assign(static_cast<size_t>(out * AxisTaps::kMax), 0.0);
  t.count.assign(static_cast<size_t>(out), 0);
  const bool crop = n.coord_mode == "tf_crop_and_resize";
  for (int64_t o = 0; o < out; ++o) {
    const float xo = original_coord(n, static_cast<float>(o), scale, in, out, roi_start, roi_end);
    int64_t* idx = &t.idx[static_cast<size_t>(o * AxisTaps::kMax)];
    double* w = &t.w[static_cast<size_t>(o * AxisTaps::kMax)];
    int& c = t.count[static_cast<size_t>(o)];
    if (crop && (xo < 0.0f || xo > static_cast<float>(in - 1))) {
      c = -1;
      continue;
    }
    auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
    if (n.mode == "nearest") {
      float r;
      const std::string& nm = n.nearest_mode;
      if (nm == "floor") r = std::floor(xo);
      else if (nm == "ceil") r = std::ceil(xo);
      else if (xo == std::floor(xo) + 0.5f) r = nm == "round_prefer_ceil" ? std::ceil(xo) : std::floor(xo);
      else r = std::round(xo);
      idx[0] = clamp(static_cast<int64_t>(r));
      w[0] = 1.0;
      c = 1;
    } else if (n.mode == "linear") {
      const float xc = std::min(std::max(xo, 0.0f), static_cast<float>(in - 1));
      const int64_t i0 = static_cast<int64_t>(std::floor(xc));
      const int64_t i1 = std::min(i0 + 1, in - 1);
      const float f = xc - static_cast<float>(i0);
      idx[0] = i0;
      w[0] = 1.0f - f;
      c = 1;
      if (f != 0.0f) {
        idx[1] = i1;
        w[1] = f;
        c = 2;
      }
    } else {  // cubic
      const float A = n.cubic_a;
      const float fl = std::floor(xo);
      const float tt = xo - fl;
      const float d[4] = {tt + 1.0f, tt, 1.0f - tt, 2.0f - tt};
      double ws[4];
      for (int j = 0; j < 4; ++j) {
        const float v = d[j];
        ws[j] = (j == 1 || j == 2) ? ((A + 2.0f) * v - (A + 3.0f)) * v * v + 1.0f
                                   : ((A * v - 5.0f * A) * v + 8.0f * A) * v - 4.0f * A;
      }
      double total = 0;
      const int64_t base = static_cast<int64_t>(fl) - 1;
      for (int j = 0; j < 4; ++j) {
        const int64_t i = base + j;
        if (n.exclude_outside && (i < 0 || i >= in)) ws[j] = 0.0;
        total += ws[j];
      }
      for (int j = 0; j < 4; ++j) {
        if (ws[j] == 0.0) continue;
        idx[c] = clamp(base + j);
        w[c] = n.exclude_outside ? ws[j] / total : ws[j];
        ++c;
      }
    }
  }
  return t;
}

void cpu_resize(const KernelArgs& k) {
  const Node& n = k.node;
  const Slots s = slots(n);
  std::vector<float> scales, roi;
  std::vector<int64_t> sizes;
  if (given(k, s.scales)) {
    const In& t = k.in[static_cast<size_t>(s.scales)];
    scales.assign(t.as<float>(), t.as<float>() + t.numel());
  }
  if (given(k, s.sizes)) sizes = int_list(k.in[static_cast<size_t>(s.sizes)]);
  if (given(k, s.roi) && n.coord_mode == "tf_crop_and_resize") {
    const In& t = k.in[static_cast<size_t>(s.roi)];
    roi.assign(t.as<float>(), t.as<float>() + t.numel());
  }
  const Shape& xs = *k.in[0].shape;
  const ResizePlan p = make_plan(n, xs, scales, sizes, roi, [](const std::string& m) { MGI_ASSERT(false, m); });
  const size_t r = xs.size();
  std::vector<AxisTaps> taps;
  for (size_t i = 0; i < r; ++i) taps.push_back(axis_taps(n, xs[i], p.out[i], p.scale[i], p.roi[i], p.roi[r + i]));
  std::vector<int64_t> in_strides(r, 1);
  for (size_t i = r; i-- > 1;) in_strides[i - 1] = in_strides[i] * xs[i];
  const float* x = k.in[0].as<float>();
  float* y = k.out[0].as<float>();
  const int64_t total = shape_numel(p.out);
  if (total == 0) return;
  const int64_t inner = r ? p.out[r - 1] : 1, rows = total / inner;
  const int threads = k.opt.threads;
  const float extrap = n.extrapolation;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && total > 16384)
  for (int64_t row = 0; row < rows; ++row) {
    // Output coordinates of the row's outer axes.
    std::vector<int64_t> o(r, 0);
    int64_t rem = row;
    for (size_t i = r - 1; i-- > 0;) {
      o[i] = rem % p.out[i];
      rem /= p.out[i];
    }
    bool outside = false;
    for (size_t i = 0; i + 1 < r; ++i) outside |= taps[i].count[static_cast<size_t>(o[i])] < 0;
    float* yr = y + row * inner;
    if (outside) {
      std::fill(yr, yr + inner, extrap);
      continue;
    }
    // Taps of the outer axes combined (odometer over them): offsets and weights.
    std::vector<int64_t> off{0};
    std::vector<double> wt{1.0};
    for (size_t i = 0; i + 1 < r; ++i) {
      const AxisTaps& t = taps[i];
      const int c = t.count[static_cast<size_t>(o[i])];
      std::vector<int64_t> off2;
      std::vector<double> wt2;
      for (size_t q = 0; q < off.size(); ++q)
        for (int j = 0; j < c; ++j) {
          const size_t at = static_cast<size_t>(o[i] * AxisTaps::kMax + j);
          off2.push_back(off[q] + t.idx[at] * in_strides[i]);
          wt2.push_back(wt[q] * t.w[at]);
        }
      off.swap(off2);
      wt.swap(wt2);
    }
    const AxisTaps& last = taps[r - 1];
    for (int64_t ox = 0; ox < inner; ++ox) {
      const int c = last.count[static_cast<size_t>(ox)];
      if (c < 0) {
        yr[ox] = extrap;
        continue;
      }
      double acc = 0.0;
      for (size_t q = 0; q < off.size(); ++q)
        for (int j = 0; j < c; ++j) {
          const size_t at = static_cast<size_t>(ox * AxisTaps::kMax + j);
          acc += wt[q] * last.w[at] * static_cast<double>(x[off[q] + last.idx[at]]);
        }
      yr[ox] = static_cast<float>(acc);
    }
  }
}

}  // namespace

void register_resize_ops(OpRegistry& r) {
  const char* notes =
      "nearest (every nearest_mode), linear, cubic (cubic_coeff_a, exclude_outside); every "
      "coordinate_transformation_mode; scales/sizes/roi host-known; antialias refused";
  {
    OpDef d;
    d.name = "Resize";
    d.since = 10;
    d.until = 10;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_resize;
    d.infer = infer_resize;
    d.cpu = cpu_resize;
    d.types = "float32";
    d.notes = "opset 10: scales input; nearest (floor) and linear, asymmetric coordinates";
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "Resize";
    d.since = 11;
    d.min_inputs = 1;
    d.max_inputs = 4;
    d.parse = parse_resize;
    d.infer = infer_resize;
    d.cpu = cpu_resize;
    d.types = "float32";
    d.notes = notes;
    r.add(std::move(d));
  }
  {
    OpDef d;
    d.name = "Upsample";
    d.since = 9;
    d.until = 10;
    d.min_inputs = d.max_inputs = 2;
    d.parse = parse_resize;
    d.infer = infer_resize;
    d.cpu = cpu_resize;
    d.types = "float32";
    d.notes = "scales input; nearest and linear (asymmetric coordinates, as onnxruntime)";
    r.add(std::move(d));
  }
}

}  // namespace mgi
