// How the CUDA backend runs one Gemm/MatMul node (fused or not): through
// cuBLASLt with a bias/activation epilogue when the node allows it, else
// through cublasGemmEx (C expanded first); the epilogue steps cuBLASLt does
// not cover run afterwards in one elementwise pass. Plain host code: tested
// without a device (tests/gpu/test_host_epilogue_plan.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph.hpp"

namespace mgi::cuda {

// The cuBLASLt epilogues used (CUBLASLT_EPILOGUE_*).
enum class LtEpilogue { none, bias, relu, relu_bias, gelu, gelu_bias };
const char* lt_epilogue_name(LtEpilogue e);

struct GemmRoute {
  bool lt = false;             // cuBLASLt matmul (one 2-D product), else cublasGemmEx / strided batched
  LtEpilogue epilogue = LtEpilogue::none;
  bool bias = false;           // inputs[2] is added: by the Lt epilogue when lt, else expanded into y first
  float beta = 0.0f;           // the legacy path's beta (Gemm beta with C, else 0)
  size_t steps_done = 0;       // node.epilogue steps the Lt epilogue covers (0 or 1)
  int64_t m = 0, n = 0, k = 0; // the product (MatMul with 2-D B: A's leading dims fold into m)
};

// `shapes`: shapes of node.inputs for this batch (an absent optional input: empty).
GemmRoute route_gemm(const Node& node, const std::vector<Shape>& shapes);

}  // namespace mgi::cuda
