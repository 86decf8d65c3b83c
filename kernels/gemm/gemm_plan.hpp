// ONNX MatMul (numpy matmul semantics) on dense row-major tensors, broken into
// GEMM calls: each call is `count` products [m,k] x [k,n] at fixed strides.
// Plain host code, so tests can execute a plan on the CPU.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor.hpp"

namespace mgi::cuda {

struct GemmCall {
  int64_t a_offset = 0, b_offset = 0, y_offset = 0;  // elements, first product
  int64_t stride_a = 0, stride_b = 0, stride_y = 0;  // elements between products (0: shared)
  int64_t count = 1;
};

struct MatmulPlan {
  int64_t m = 0, n = 0, k = 0;
  std::vector<GemmCall> calls;
  bool zero_fill = false;  // k == 0: y (y_numel values) is all zeros
  int64_t y_numel = 0;
};

// Throws ModelError for shapes MatMul does not accept.
MatmulPlan plan_matmul(const Shape& a_shape, const Shape& b_shape);

}  // namespace mgi::cuda
