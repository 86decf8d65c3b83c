// ONNX loader: a runtime node's Node, per op kind: how many inputs it takes,
// its attributes with their ONNX defaults, and the forms not supported.
#include "constant_fold.hpp"
#include "cpu_ops.hpp"
#include "onnx_loader_internal.hpp"

namespace mgi::onnx_load {

void Loader::want_inputs(const OnnxNode& on, const std::vector<int>& in, size_t lo, size_t hi) const {
  if (in.size() < lo || in.size() > hi)
    on.fail("expects " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
            " inputs, has " + std::to_string(in.size()));
  for (size_t k = 0; k < lo; ++k)
    if (in[k] < 0) on.fail("required input " + std::to_string(k) + " is missing");
}

std::vector<int64_t> Loader::const_ints(const OnnxNode& on, int id, const char* what) const {
  if (!is_const(id) || const_data(id).dtype != DType::i64)
    on.fail(std::string("input '") + what + "' must be an int64 constant (computable at load time)");
  return const_data(id).i;
}

Node Loader::build_node(const OnnxNode& on, OpKind kind, const std::vector<int>& in) const {
  const std::string& op = on.op_type();
  Node n;
  n.op = kind;
  n.name = on.name();
  n.op_type = op;
  n.inputs = in;
  switch (kind) {
    case OpKind::Gemm:
      want_inputs(on, in, 2, 3);
      n.alpha = on.get_float("alpha", 1.0f);
      n.beta = on.get_float("beta", 1.0f);
      n.trans_a = on.get_int("transA", 0) != 0;
      n.trans_b = on.get_int("transB", 0) != 0;
      break;
    case OpKind::MatMul:
    case OpKind::Pow: want_inputs(on, in, 2, 2); break;
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
      want_inputs(on, in, 2, 2);
      if (on.has("axis") && on.get_int("broadcast", 0) != 0)
        on.fail("legacy broadcasting with 'axis' (opset < 7) is not supported");
      break;
    case OpKind::LeakyRelu:
      want_inputs(on, in, 1, 1);
      n.alpha = on.get_float("alpha", 0.01f);
      break;
    case OpKind::Gelu: {
      want_inputs(on, in, 1, 1);
      const std::string a = on.get_string("approximate", "none");
      if (a != "none" && a != "tanh") on.fail("attribute 'approximate' must be 'none' or 'tanh', not '" + a + "'");
      n.gelu_tanh = a == "tanh";
      break;
    }
    case OpKind::Relu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::Erf:
    case OpKind::Exp:
    case OpKind::Log:
    case OpKind::Sqrt:
    case OpKind::Neg:
    case OpKind::Abs: want_inputs(on, in, 1, 1); break;
    case OpKind::Softmax:
    case OpKind::LogSoftmax:
      want_inputs(on, in, 1, 1);
      n.softmax_2d = g_.opset < 13;
      n.axis = on.get_int("axis", n.softmax_2d ? 1 : -1);
      break;
    case OpKind::Flatten:
      want_inputs(on, in, 1, 1);
      n.axis = on.get_int("axis", 1);
      break;
    case OpKind::Transpose:
      want_inputs(on, in, 1, 1);
      n.perm = on.get_ints("perm");
      break;
    case OpKind::BatchNormalization: {
      want_inputs(on, in, 5, 5);
      if (g_.opset < 9 && on.get_int("spatial", 1) == 0) on.fail("spatial=0 is not supported");
      if (on.get_int("training_mode", 0) != 0) on.fail("training_mode=1 is not supported (inference only)");
      n.epsilon = on.get_float("epsilon", 1e-5f);
      static const char* names[] = {"X", "scale", "B", "input_mean", "input_var"};
      for (size_t k = 1; k < 5; ++k)
        if (!is_const(in[k]) || const_data(in[k]).dtype != DType::f32)
          on.fail(std::string("input '") + names[k] + "' must be a float32 constant (inference form)");
      break;
    }
    case OpKind::LayerNormalization:
      want_inputs(on, in, 2, 3);
      n.axis = on.get_int("axis", -1);
      n.epsilon = on.get_float("epsilon", 1e-5f);
      break;
    case OpKind::TestWork:
      want_inputs(on, in, 1, 1);
      n.ns_per_unit = on.get_int("ns_per_unit", 1000);
      if (n.ns_per_unit < 0 || n.ns_per_unit > cpu::kMaxTestWorkNsPerUnit)
        on.fail("attribute 'ns_per_unit' must be in [0, " + std::to_string(cpu::kMaxTestWorkNsPerUnit) + "], got " +
                std::to_string(n.ns_per_unit));
      break;
    case OpKind::Identity:
      if (op == "Cast") {
        want_inputs(on, in, 1, 1);
        const int64_t to = on.need_int("to");
        if (to != TensorProto::FLOAT)
          on.fail("casts a runtime value to " + onnx_type_name(static_cast<int32_t>(to)) +
                  "; only float32 is supported at run time");
      } else if (op == "Dropout") {
        want_inputs(on, in, 1, 3);
      } else {
        want_inputs(on, in, 1, 1);
      }
      n.inputs = {in[0]};
      break;
    case OpKind::Reshape:
      if (op == "Reshape") {
        n.allowzero = on.get_int("allowzero", 0) != 0;
        if (g_.opset < 5) {
          want_inputs(on, in, 1, 1);
          if (!on.has("shape")) on.fail("missing required attribute 'shape'");
          n.target_shape = on.get_ints("shape");
        } else {
          want_inputs(on, in, 2, 2);
          n.target_shape = const_ints(on, in[1], "shape");
        }
        bool zero = false, minus = false;
        for (int64_t d : n.target_shape) {
          if (d < -1 && d != kBatchDim) on.fail("target shape " + shape_str(n.target_shape) + " has an invalid dimension");
          zero = zero || d == 0;
          minus = minus || d == -1;
        }
        if (n.allowzero && zero && minus) on.fail("allowzero=1 with both 0 and -1 in the target shape");
      } else {  // Unsqueeze/Squeeze of a runtime value: a Reshape to its (static row) result shape
        want_inputs(on, in, 1, 2);
        Tensor shaped;  // shape only: the fold computes the output shape and copies no data
        shaped.shape = symbolic_shape(on, in[0]);
        std::vector<const Tensor*> args = {&shaped};
        if (in.size() > 1) args.push_back(in[1] >= 0 ? &const_ints_tensor(on, in[1]) : nullptr);
        std::vector<Tensor> out;
        fold_constant_node(on, g_.opset, args, out);
        n.target_shape = out.at(0).shape;
      }
      n.inputs = {in[0]};
      break;
  }
  return n;
}

const Tensor& Loader::const_ints_tensor(const OnnxNode& on, int id) const {
  const_ints(on, id, "axes");
  return const_data(id);
}

}  // namespace mgi::onnx_load
