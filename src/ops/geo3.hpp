// A convolution's or pool's spatial geometry as three axes (leading axes of
// size 1 for 1-D and 2-D), the form the CPU kernels and the CUDA kernels
// index. Plain data with no includes beyond <cstdint>, so device code can take
// it by value. Made from a Spatial by geo3() (spatial.hpp).
#pragma once
#include <cstdint>

namespace mgi {

struct Geo3 {
  int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];  // per axis: extents, stride, dilation, pads
  int64_t IN = 1, OUT = 1, KK = 1;                        // products of in, out, k
};

}  // namespace mgi
