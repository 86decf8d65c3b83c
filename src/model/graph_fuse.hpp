// Graph fusion, run by the backends in prepare() (load_onnx leaves the graph
// unfused, so both forms stay testable):
//   Gemm | MatMul(2-D B)  [+ Add of a [n] / [1, n] constant]  [+ unary ops...]
//     -> one Gemm/MatMul node with a bias (inputs[2]) and an epilogue;
//   unary -> unary -> ...  -> one unary node with an epilogue.
// A node is folded into its producer only when the producer's output has no
// other reader and is not a graph output. Each fused node computes the same
// float operations in the same order as the nodes it replaces (product, then
// + bias, then each unary op), so the CPU backend's results stay bitwise equal.
#pragma once
#include <cstddef>
#include <vector>

#include "graph.hpp"

namespace mgi {

// Longest epilogue/chain fused into one node (the CUDA chain kernel takes this many steps).
constexpr size_t kMaxEpilogue = 8;

struct FuseStats {
  int gemm_bias = 0;     // Adds folded into a Gemm/MatMul
  int gemm_unary = 0;    // unary ops folded into a Gemm/MatMul epilogue
  int chain_unary = 0;   // unary ops folded into a preceding unary op
  int nodes_before = 0, nodes_after = 0;
  int conv_unary = 0;    // unary ops folded into a Conv's epilogue (Conv + Relu)
};

// `input_rows`: per-row shapes of the graph inputs, as given to Backend::prepare
// (shapes decide what may fuse). Value ids are kept: values of removed
// intermediate results stay in `values`, read by no node. A graph whose shapes
// cannot be inferred is returned unchanged (prepare() reports the error).
Graph fuse_graph(Graph g, const std::vector<Shape>& input_rows, FuseStats* stats = nullptr);

}  // namespace mgi
