// The CPU backend's GEMM: C = alpha * A op(B), with op(B) packed into column
// panels (the weights once, in prepare()) and a register-blocked kernel for
// AVX-512, AVX2 + FMA, or portable C++.
//
// Every element C[i][j] is one chain of fused multiply-adds over q = 0..K-1 in
// order, started from 0 and scaled by alpha at the end (K is split into blocks,
// but a block resumes from the exact stored partial sum). So a row's result
// never depends on the other rows, on how rows and columns are split between
// threads, or on which kernel runs: every batch size, thread count and CPU
// with FMA gives the same bits, with no padding of partial tiles.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"

namespace mgi::cpu {

// Columns per packed panel (two AVX-512 vectors); a last panel of at most
// kNarrowPanel columns is packed that narrow (a 10-class output layer then
// computes 16 columns, not 32).
constexpr int64_t kPanel = 32;
constexpr int64_t kNarrowPanel = 16;

// op(B) [k, n] as ceil(n / kPanel) panels, each k x width(p) row-major, zero-padded,
// starting on a 64-byte boundary (vector loads never split a cache line).
struct PackedB {
  int64_t k = 0, n = 0;
  std::vector<float> storage;
  size_t offset = 0;  // first element on a 64-byte boundary
  int64_t panels() const { return (n + kPanel - 1) / kPanel; }
  int64_t width(int64_t p) const { return n - p * kPanel <= kNarrowPanel ? kNarrowPanel : kPanel; }
  const float* panel(int64_t p) const { return storage.data() + offset + p * k * kPanel; }
};
// b is [k, n] row-major, or [n, k] when tb (op(B) = B^T).
void pack_b(const float* b, bool tb, int64_t k, int64_t n, PackedB& out);

// What follows the product, per element: + beta * bias (broadcast: element
// (i, j) reads bias[i * sm + j * sn]), then each unary step, with the same float
// operations as the separate Add (or Gemm C) and unary nodes: y + b when
// beta == 1, else y + beta * b. Applied to each block of rows while in cache.
struct GemmEpilogue {
  const float* bias = nullptr;
  int64_t sm = 0, sn = 0;
  float beta = 1.0f;
  const std::vector<UnaryStep>* steps = nullptr;

  bool empty() const { return bias == nullptr && (steps == nullptr || steps->empty()); }
  // Rows [i0, i0 + rows) x columns [j0, j0 + cols) of c (row stride ldc).
  void apply(float* c, int64_t ldc, int64_t i0, int64_t rows, int64_t j0, int64_t cols) const;
};

// c[m, n] (row stride ldc) = alpha * a[m, k] (row stride lda) x op(B), then `ep`;
// rows and column panels split over `threads` OpenMP threads.
void gemm_packed(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const PackedB& b,
                 float* c, int64_t ldc, const GemmEpilogue& ep, int threads);

// The kernel in use: "avx512", "avx2" or "portable" (chosen once from the CPU's features).
const char* gemm_kernel_name();
// For tests and benchmarks: use another kernel; false when this CPU cannot run it.
bool set_gemm_kernel(const std::string& name);

}  // namespace mgi::cpu
