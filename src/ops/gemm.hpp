// Gemm and MatMul (gemm.cpp): what the CPU backend needs besides the registry
// entries, to pack a constant B once in prepare() (gemm_kernel.hpp).
#pragma once
#include <cstdint>
#include <vector>

#include "graph.hpp"

namespace mgi::cpu {

// GEMM geometry of a Gemm/MatMul node for given input shapes: `batch`
// independent products of [m, k] x [k, n]. MatMul with a 2-D (or 1-D) B folds
// A's leading dims into m.
struct GemmDims {
  int64_t batch = 1, m = 0, n = 0, k = 0;
};
GemmDims gemm_dims(const Node& node, const std::vector<Shape>& in_shapes);

}  // namespace mgi::cpu
