// The key of a cuBLASLt plan (gemm_engine.cpp): everything a plan fixes. A
// plan holds the matmul descriptor (types, transposes, epilogue), the A/B/D
// layouts (m, n, k and the leading dimensions they imply) and the algorithm
// the heuristic chose for them; a plan reused for another shape computes a
// wrong product without an error. m, n and k all follow the batch in some
// layouts (Gemm(W, X, transB=1) puts it in n, MatMul(Transpose(X), Y) in k).
// Plain host code: tested without a device (tests/gpu/test_host_gemm_plan_key.cpp).
#pragma once
#include <cstdint>
#include <tuple>

#include "epilogue_plan.hpp"

namespace mgi::cuda {

struct LtPlanKey {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;  // of the node's A and B (Gemm transA/transB)
  LtEpilogue epilogue = LtEpilogue::none;
  // Not the bias pointer: the engine sets it on the descriptor before every
  // call, so one plan serves each pipeline lane's copy of a bias that is a
  // graph input (a plan per pointer would also have to be made inside a CUDA
  // graph capture, which fails it). Only its alignment: the heuristic reads the
  // pointer to pick algorithms that can load it (cublasLt.h,
  // CUBLASLT_MATMUL_DESC_BIAS_POINTER).
  int bias_align = 0;                 // bytes, see bias_alignment(); 0: no bias
  int ab_type = 0, compute_type = 0;  // cudaDataType_t / cublasComputeType_t

  auto tie() const {
    return std::tie(m, n, k, trans_a, trans_b, epilogue, bias_align, ab_type, compute_type);
  }
  bool operator<(const LtPlanKey& o) const { return tie() < o.tie(); }
  bool operator==(const LtPlanKey& o) const { return tie() == o.tie(); }
  bool operator!=(const LtPlanKey& o) const { return !(*this == o); }
};

// The alignment class of a bias address: the largest power of two dividing
// it, at most 256 (cudaMalloc's alignment, and the alignment cuBLASLt's
// heuristic assumes for A/B/C/D by default, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*).
constexpr int kMaxBiasAlign = 256;
inline int bias_alignment(const void* p) {
  if (!p) return 0;
  const auto a = reinterpret_cast<uintptr_t>(p);
  int align = 1;
  while (align < kMaxBiasAlign && a % (2 * static_cast<uintptr_t>(align)) == 0) align *= 2;
  return align;
}

// The key of a product route_gemm() sends to cuBLASLt (r.lt); `bias`: the
// address the epilogue reads (null without one).
inline LtPlanKey lt_plan_key(const Node& node, const GemmRoute& r, const void* bias, int ab_type, int compute_type) {
  LtPlanKey key;
  key.m = r.m;
  key.n = r.n;
  key.k = r.k;
  key.trans_a = node.is("Gemm") && node.trans_a;
  key.trans_b = node.is("Gemm") && node.trans_b;
  key.epilogue = r.epilogue;
  key.bias_align = bias_alignment(bias);
  key.ab_type = ab_type;
  key.compute_type = compute_type;
  return key;
}

}  // namespace mgi::cuda
