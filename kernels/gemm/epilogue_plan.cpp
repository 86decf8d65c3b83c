#include "epilogue_plan.hpp"

namespace mgi::cuda {

const char* lt_epilogue_name(LtEpilogue e) {
  switch (e) {
    case LtEpilogue::none: return "default";
    case LtEpilogue::bias: return "bias";
    case LtEpilogue::relu: return "relu";
    case LtEpilogue::relu_bias: return "relu_bias";
    case LtEpilogue::gelu: return "gelu";
    case LtEpilogue::gelu_bias: return "gelu_bias";
  }
  return "?";
}

namespace {

// A bias cuBLASLt can add: one value per output column, [n] or [1, n].
bool row_vector(const Shape& s, int64_t n) {
  return (s.size() == 1 && s[0] == n) || (s.size() == 2 && s[0] == 1 && s[1] == n);
}

}  // namespace

GemmRoute route_gemm(const Node& node, const std::vector<Shape>& shapes) {
  GemmRoute r;
  const bool has_c = node.inputs.size() > 2 && node.inputs[2] >= 0 && shapes.size() > 2;
  const Shape& a = shapes.at(0);
  const Shape& b = shapes.at(1);
  if (node.is("Gemm")) {
    r.m = node.trans_a ? a[1] : a[0];
    r.k = node.trans_a ? a[0] : a[1];
    r.n = node.trans_b ? b[0] : b[1];
    r.bias = has_c && node.beta != 0.0f;
    r.beta = r.bias ? node.beta : 0.0f;
    // Lt adds the bias unscaled: only a row-vector C with beta == 1.
    r.lt = !r.bias || (node.beta == 1.0f && row_vector(shapes[2], r.n));
  } else {
    if (b.size() != 2 || a.size() < 2) {  // batched or 1-D operands: strided-batched cuBLAS
      r.lt = false;
      r.bias = has_c;  // only fused MatMuls have one, and those have a 2-D B
      return r;
    }
    r.k = a.back();
    r.n = b[1];
    r.m = 1;
    for (size_t q = 0; q + 1 < a.size(); ++q) r.m *= a[q];
    r.bias = has_c;
    r.beta = r.bias ? 1.0f : 0.0f;
    r.lt = true;  // the fused bias is a row vector by construction (infer_node_shape checks it)
  }
  if (r.k == 0) r.lt = false;  // empty sums: the legacy path writes beta * C (or zeros)
  if (!r.lt) return r;
  r.epilogue = r.bias ? LtEpilogue::bias : LtEpilogue::none;
  if (!node.epilogue.empty()) {
    const UnaryStep& s = node.epilogue.front();
    // cuBLASLt's GELU is the tanh approximation: the exact (erf) Gelu runs as a step.
    if (s.fn == UnaryFn::relu) {
      r.epilogue = r.bias ? LtEpilogue::relu_bias : LtEpilogue::relu;
      r.steps_done = 1;
    } else if (s.fn == UnaryFn::gelu && s.gelu_tanh) {
      r.epilogue = r.bias ? LtEpilogue::gelu_bias : LtEpilogue::gelu;
      r.steps_done = 1;
    }
  }
  return r;
}

}  // namespace mgi::cuda
