// CPU kernels for the graph's ops on float32 buffers. Used by the CPU backend
// and by constant folding in the loader. Every kernel computes each output
// element in a fixed order that depends only on the shapes of a row, never on
// the batch size or the thread count, so results are bitwise reproducible.
#pragma once
#include <cstdint>
#include <vector>

#include "graph.hpp"

namespace mgi::cpu {

struct ExecOptions {
  int threads = 1;      // OpenMP threads for this node (>= 1)
  // GEMM dims that grow with the batch: computed in fixed kGemmTile-wide tiles so a
  // row's result does not depend on how many rows share the call.
  bool tile_m = false;
  bool tile_n = false;
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

// Rows per GEMM tile along a batch-dependent dimension. Fixed: changing it
// changes results in the last bits. BLAS repacks the weights on every call, so
// a tile this tall keeps that to ~2 % of the work (64 rows cost 12 % on the
// bench MLP, docs/PERFORMANCE.md); the price is padding of up to 255 rows in the
// last tile of a batch (batches that are multiples of 256 waste nothing).
constexpr int64_t kGemmTile = 256;
// Columns per GEMM call along a dimension that does not depend on the batch
// (the weights' output features), so wide layers give the threads more tiles
// than the batch alone would. Depends on the model only, never on the batch or
// the thread count, so a row's result stays the same bits.
constexpr int64_t kGemmColumnBlock = 512;

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
