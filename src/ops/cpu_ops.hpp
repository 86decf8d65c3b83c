// CPU kernels for the graph's ops on float32 buffers. Used by the CPU backend
// and by constant folding in the loader. Every kernel computes each output
// element in a fixed order that depends only on the shapes of a row, never on
// the batch size or the thread count, so results are bitwise reproducible
// (GEMMs: cpu_gemm_kernel.hpp).
#pragma once
#include <cstdint>
#include <vector>

#include "graph.hpp"

namespace mgi::cpu {

struct PackedB;  // cpu_gemm_kernel.hpp

struct ExecOptions {
  int threads = 1;  // OpenMP threads for this node (>= 1)
  // Gemm/MatMul with a constant 2-D B: op(B) packed once by the backend (else packed per call).
  const PackedB* packed_b = nullptr;
};

// Runs one node. in[k] points to the data of node.inputs[k] (nullptr where the
// optional input is absent) with shape in_shapes[k]; out has out_shape.
void exec_node(const Node& node, const std::vector<Shape>& in_shapes, const std::vector<const float*>& in,
               const Shape& out_shape, float* out, const ExecOptions& opt);

// GEMM geometry of a Gemm/MatMul node for given input shapes: `batch`
// independent products of [m, k] x [k, n]. MatMul with a 2-D (or 1-D) B folds
// A's leading dims into m.
struct GemmDims {
  int64_t batch = 1, m = 0, n = 0, k = 0;
};
GemmDims gemm_dims(const Node& node, const std::vector<Shape>& in_shapes);


// Kernels by family (cpu_ops_*.cpp).
void gemm(const Node& n, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
          const ExecOptions& opt);
void matmul(const Node& n, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
            const ExecOptions& opt);
// y = n's op, then each of n.epilogue, applied to every element (one pass, in
// cache-sized blocks; bitwise the same as separate passes).
void unary(const Node& n, int64_t count, const float* x, float* y, const ExecOptions& opt);
// One unary op on a contiguous range, single-threaded; y may be x.
void apply_unary(const UnaryStep& s, const float* x, float* y, int64_t count);
void binary(OpKind op, const Shape& a_shape, const float* a, const Shape& b_shape, const float* b,
            const Shape& out_shape, float* out, const ExecOptions& opt);
void softmax(const Node& n, const Shape& shape, const float* x, float* y, const ExecOptions& opt);
void batchnorm(const Node& n, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
               const ExecOptions& opt);
void layernorm(const Node& n, const std::vector<Shape>& s, const std::vector<const float*>& in, float* out,
               const ExecOptions& opt);
void transpose(const std::vector<int64_t>& perm, const Shape& in_shape, const float* x, float* y,
               const ExecOptions& opt);
void copy(int64_t count, const float* x, float* y, const ExecOptions& opt);

// mgi.test.Work, for benchmarks and tests only: y = x, then one sleep per call
// (per batch, like one kernel launch) of sum over rows of max(0, x[row, 0]) *
// ns_per_unit nanoseconds. Simulates device work whose cost grows with row
// length without using the CPU. shape is [batch, d], d >= 1.
constexpr int64_t kMaxTestWorkNsPerUnit = 1000000000;  // 1 s per unit
void test_work(const Node& n, const Shape& shape, const float* x, float* y, const ExecOptions& opt);

}  // namespace mgi::cpu
