// Geometry shared by Conv, ConvTranspose and the pools (conv.cpp, pool.cpp):
// per spatial axis the kernel extent, stride, dilation, begin/end pads and
// output size, resolved from the node's attributes and the input's shape with
// the ONNX formulas (auto_pad, ceil_mode, ConvTranspose output_shape).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "geo3.hpp"
#include "op_registry.hpp"

namespace mgi {

struct Spatial {
  size_t nd = 0;                                  // spatial axes
  std::vector<int64_t> in, out, k, s, d, pb, pe;  // input/output sizes, kernel, stride, dilation, pads
  int64_t in_size() const;                        // product of `in`
  int64_t out_size() const;                       // product of `out`
  int64_t k_size() const;                         // product of `k`
};

// Reads kernel_shape, strides, pads, dilations and auto_pad into n (validated
// where the rank is not needed: values >= 0 or > 0, auto_pad one of the four).
void parse_spatial(const OnnxNode& on, Node& n);

// Conv and pools: `x` is [N, C, spatial...], `kernel` the kernel extents (W's for
// Conv). Fails through a.fail() on attributes of the wrong length or a window
// larger than the padded input.
Spatial resolve_forward(const InferArgs& a, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode);
// ConvTranspose: output sizes from output_shape, auto_pad or pads (+ output_padding).
Spatial resolve_transpose(const InferArgs& a, const Shape& x, const std::vector<int64_t>& kernel);

// The same for a kernel, whose shapes inference has already checked.
Spatial spatial_of(const Node& n, const Shape& x, const std::vector<int64_t>& kernel, bool ceil_mode);
Spatial spatial_of_transpose(const Node& n, const Shape& x, const std::vector<int64_t>& kernel);

// The geometry as three axes (geo3.hpp).
Geo3 geo3(const Spatial& sp);

}  // namespace mgi
