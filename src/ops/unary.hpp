// The unary elementwise ops (Relu, LeakyRelu, Sigmoid, Tanh, Erf, Gelu, Exp,
// Log, Sqrt, Neg, Abs, Elu, Selu, Celu, HardSigmoid, HardSwish, Softplus,
// Softsign, Mish, Reciprocal, Floor, Ceil, Round, Sign, Sin, Cos): what fusion and the GEMM epilogue need besides the
// registry entries (unary.cpp).
#pragma once
#include <cstdint>

#include "graph.hpp"

namespace mgi {

// The ONNX op name of a unary function ("Relu", "LeakyRelu", ..., "Gelu").
const char* unary_fn_name(UnaryFn fn);

// True when n is one of the unary ops (its function is n.unary, and it may
// carry an epilogue of further unary steps).
bool is_unary_node(const Node& n);

namespace cpu {
// One unary function on a contiguous float32 range, single-threaded; y may be x.
void apply_unary(const UnaryStep& s, const float* x, float* y, int64_t count);
}  // namespace cpu

}  // namespace mgi
