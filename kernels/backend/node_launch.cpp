// Node -> kernel launch for the CUDA backend: reads the node's attributes and
// the shapes of this batch, launches on the backend's stream.
#include <string>

#include "cuda_backend.hpp"
#include "error.hpp"
#include "ops.hpp"

namespace mgi::cuda {

namespace {

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k) p *= s[k];
  return p;
}

size_t norm_axis(int64_t axis, size_t rank) {
  return static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis);
}

BinaryOp binary_of(OpKind op) {
  switch (op) {
    case OpKind::Add: return BinaryOp::add;
    case OpKind::Sub: return BinaryOp::sub;
    case OpKind::Mul: return BinaryOp::mul;
    case OpKind::Div: return BinaryOp::div;
    case OpKind::Pow: return BinaryOp::pow;
    default: break;
  }
  MGI_ASSERT(false, std::string("not a binary op: ") + op_name(op));
  return BinaryOp::add;
}

}  // namespace

void CudaBackend::execute(const Node& n, const std::vector<Shape>& shapes) {
  cudaStream_t s = stream_.get();
  auto has = [&](size_t k) { return k < n.inputs.size() && n.inputs[k] >= 0; };
  auto in = [&](size_t k) -> const float* { return has(k) ? data(n.inputs[k]) : nullptr; };
  auto shape = [&](size_t k) -> const Shape& { return shapes[static_cast<size_t>(n.inputs[k])]; };
  float* y = data(n.outputs[0]);
  const Shape& ys = shapes[static_cast<size_t>(n.outputs[0])];

  switch (n.op) {
    case OpKind::Gemm:
    case OpKind::MatMul:  // cuBLASLt with fused epilogues, or cublasGemmEx (gemm_engine.hpp)
      return gemm_.run(cublas_.get(), n, shapes, [this](int v) { return data(v); });
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Pow: return binary(binary_of(n.op), in(0), shape(0), in(1), shape(1), y, s);
    case OpKind::Relu:
    case OpKind::LeakyRelu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::Erf:
    case OpKind::Gelu:
    case OpKind::Exp:
    case OpKind::Log:
    case OpKind::Sqrt:
    case OpKind::Neg:
    case OpKind::Abs: {
      if (n.epilogue.empty()) return unary(unary_op(unary_step(n)), n.alpha, in(0), y, shape_numel(ys), s);
      std::vector<ChainStep> steps = {{unary_op(unary_step(n)), n.alpha}};  // a fused chain (graph_fuse.hpp)
      for (const UnaryStep& st : n.epilogue) steps.push_back({unary_op(st), st.alpha});
      return unary_chain(steps, in(0), y, shape_numel(ys), s);
    }
    case OpKind::Softmax:
    case OpKind::LogSoftmax: {
      const Shape& x = shape(0);
      const size_t ax = norm_axis(n.axis, x.size());
      const int64_t outer = prod(x, 0, ax);
      // opset < 13 flattens to 2-D at axis; opset >= 13 normalizes along the one axis.
      const int64_t len = n.softmax_2d ? prod(x, ax, x.size()) : x[ax];
      const int64_t inner = n.softmax_2d ? 1 : prod(x, ax + 1, x.size());
      return softmax(in(0), y, outer, len, inner, n.op == OpKind::LogSoftmax, s);
    }
    case OpKind::Flatten:
    case OpKind::Reshape:
    case OpKind::Identity: return;  // y aliases the input's storage
    case OpKind::Transpose: {
      const Shape& x = shape(0);
      std::vector<int64_t> perm = n.perm;
      if (perm.empty())
        for (size_t k = x.size(); k-- > 0;) perm.push_back(static_cast<int64_t>(k));
      return transpose(in(0), x, perm, y, s);
    }
    case OpKind::BatchNormalization: {
      const Shape& x = shape(0);
      return batch_norm(in(0), y, x[0], x[1], prod(x, 2, x.size()), in(1), in(2), in(3), in(4), n.epsilon, s);
    }
    case OpKind::LayerNormalization: {
      const Shape& x = shape(0);
      const size_t ax = norm_axis(n.axis, x.size());
      const int64_t rows = prod(x, 0, ax), d = prod(x, ax, x.size());
      const bool scale1 = shape_numel(shape(1)) == 1 && d != 1;
      const bool bias1 = has(2) && shape_numel(shape(2)) == 1 && d != 1;
      return layer_norm(in(0), y, rows, d, in(1), scale1, in(2), bias1, n.epsilon, s);
    }
    case OpKind::TestWork: break;  // CPU-only; prepare() rejects it
  }
  MGI_ASSERT(false, std::string("CUDA backend: no kernel for ") + op_name(n.op));
}

}  // namespace mgi::cuda
