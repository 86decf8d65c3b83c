// Constant: a tensor attribute as a value. It has no inputs, so the loader
// always folds it; the kernel copies the parsed tensor.
#include <cstring>

#include "onnx_attrs.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace {

void parse_constant(const OnnxNode& on, Node& n) {
  if (const onnx::TensorProto* v = on.get_tensor("value")) {
    n.tensor = tensor_from_onnx(*v, "model " + on.source() + ": node '" + on.name() + "' (Constant) attribute 'value'");
  } else if (on.has("value_float")) {
    n.tensor = Tensor::f32({}, {on.get_float("value_float", 0.0f)});
  } else if (on.has("value_floats")) {
    const std::vector<float> f = on.get_floats("value_floats");
    n.tensor = Tensor::f32({static_cast<int64_t>(f.size())}, f);
  } else if (on.has("value_int")) {
    n.tensor = Tensor::i64({}, {on.get_int("value_int", 0)});
  } else if (on.has("value_ints")) {
    const std::vector<int64_t> i = on.get_ints("value_ints");
    n.tensor = Tensor::i64({static_cast<int64_t>(i.size())}, i);
  } else if (on.has("sparse_value") || on.has("value_string") || on.has("value_strings")) {
    on.fail("sparse and string constants are not supported");
  } else {
    on.fail("missing required attribute 'value'");
  }
}

void infer_constant(const InferArgs& a, std::vector<OutInfo>& out) {
  out[0] = {a.node.tensor.dtype, a.node.tensor.shape};
}

void constant_cpu(const KernelArgs& a) {
  if (a.node.tensor.bytes()) std::memcpy(a.out[0].data, a.node.tensor.raw(), a.node.tensor.bytes());
}

DType constant_type(const Node& n, const std::vector<DType>&, size_t) { return n.tensor.dtype; }

}  // namespace

void register_constant_ops(OpRegistry& r) {
  OpDef d;
  d.name = "Constant";
  d.min_inputs = d.max_inputs = 0;
  d.parse = parse_constant;
  d.infer = infer_constant;
  d.cpu = constant_cpu;
  d.type = constant_type;
  d.types = "all";
  d.notes = "value, value_float(s), value_int(s); sparse and string constants refused; always folded at load";
  r.add(std::move(d));
}

}  // namespace mgi
