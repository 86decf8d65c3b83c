// Dispatch from a graph node to its CPU kernel.
#include "cpu_ops.hpp"

#include "error.hpp"

namespace mgi::cpu {

void exec_node(const Node& n, const std::vector<Shape>& s, const std::vector<const float*>& in,
               const Shape& out_shape, float* out, const ExecOptions& opt) {
  switch (n.op) {
    case OpKind::Gemm: return gemm(n, s, in, out, opt);
    case OpKind::MatMul: return matmul(n, s, in, out, opt);
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
    case OpKind::Pow: return binary(n.op, s[0], in[0], s[1], in[1], out_shape, out, opt);
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
    case OpKind::Abs: return unary(n, shape_numel(out_shape), in[0], out, opt);
    case OpKind::Softmax:
    case OpKind::LogSoftmax: return softmax(n, s[0], in[0], out, opt);
    case OpKind::Flatten:
    case OpKind::Reshape:
    case OpKind::Identity: return copy(shape_numel(out_shape), in[0], out, opt);
    case OpKind::Transpose: return transpose(n.perm, s[0], in[0], out, opt);
    case OpKind::BatchNormalization: return batchnorm(n, s, in, out, opt);
    case OpKind::LayerNormalization: return layernorm(n, s, in, out, opt);
    case OpKind::TestWork: return test_work(n, s[0], in[0], out, opt);
  }
  MGI_ASSERT(false, "unknown op kind");
}

}  // namespace mgi::cpu
