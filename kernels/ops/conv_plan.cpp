#include "conv_plan.hpp"

#include <algorithm>

#include "spatial.hpp"

namespace mgi::cuda {

int64_t ConvPlan::scratch_floats() const {
  if (path != ConvPath::im2col || N == 0) return 0;
  return std::max(col_per_image, std::min(N * col_per_image, kConvScratchCapFloats));
}

int64_t ConvPlan::images_per_chunk(int64_t scratch) const {
  if (path != ConvPath::im2col || col_per_image == 0) return std::max<int64_t>(N, 1);
  return std::max<int64_t>(1, std::min(N, scratch / col_per_image));
}

Geo3 pool_geo(const Node& n, const Shape& x) { return geo3(spatial_of(n, x, n.kernel_shape, n.ceil_mode)); }

ConvPlan plan_conv(const Node& n, const Shape& x, const Shape& w) {
  ConvPlan p;
  p.g = geo3(spatial_of(n, x, std::vector<int64_t>(w.begin() + 2, w.end()), false));
  p.N = x[0];
  p.C = x[1];
  p.M = w[0];
  p.G = n.group;
  p.cg = p.C / p.G;
  p.mg = p.M / p.G;
  p.kg = p.cg * p.g.KK;
  const Geo3& g = p.g;
  bool unit = g.KK == 1;
  for (int i = 0; i < 3; ++i) unit = unit && g.s[i] == 1 && g.pb[i] == 0 && g.pe[i] == 0;
  if (p.mg <= kConvDirectMaxChannels) p.path = ConvPath::direct;
  else if (unit && g.OUT == g.IN) p.path = ConvPath::pointwise;
  else p.path = ConvPath::im2col;
  p.col_per_image = p.C * g.KK * g.OUT;
  return p;
}

ConvPlan plan_conv_transpose(const Node& n, const Shape& x, const Shape& w) {
  ConvPlan p;
  p.g = geo3(spatial_of_transpose(n, x, std::vector<int64_t>(w.begin() + 2, w.end())));
  p.N = x[0];
  p.C = x[1];
  p.G = n.group;
  p.mg = w[1];
  p.M = p.mg * p.G;
  p.cg = p.C / p.G;
  p.kg = p.mg * p.g.KK;
  p.path = ConvPath::im2col;
  p.col_per_image = p.M * p.g.KK * p.g.IN;
  return p;
}

}  // namespace mgi::cuda
