// ONNX loader, one node at a time: a runtime op becomes a graph Node (its
// load-time shapes tracked at batch 1 and 2); a node whose inputs are all
// constants is evaluated here, with the CPU kernels for float ops and
// constant_fold.cpp for shape arithmetic and layout ops.
#include "constant_fold.hpp"
#include "cpu_ops.hpp"
#include "onnx_loader_internal.hpp"

namespace mgi::onnx_load {

namespace {

// Domain of the test-only ops (benchmarks and tests; never in a real model).
const char* const kTestDomain = "mgi.test";

// ONNX op types with a runtime kernel (some map onto another OpKind).
const std::unordered_map<std::string, OpKind>& runtime_ops() {
  static const std::unordered_map<std::string, OpKind> m = {
      {"Gemm", OpKind::Gemm},
      {"MatMul", OpKind::MatMul},
      {"Add", OpKind::Add},
      {"Sub", OpKind::Sub},
      {"Mul", OpKind::Mul},
      {"Div", OpKind::Div},
      {"Pow", OpKind::Pow},
      {"Relu", OpKind::Relu},
      {"LeakyRelu", OpKind::LeakyRelu},
      {"Sigmoid", OpKind::Sigmoid},
      {"Tanh", OpKind::Tanh},
      {"Erf", OpKind::Erf},
      {"Gelu", OpKind::Gelu},
      {"Exp", OpKind::Exp},
      {"Log", OpKind::Log},
      {"Sqrt", OpKind::Sqrt},
      {"Neg", OpKind::Neg},
      {"Abs", OpKind::Abs},
      {"Softmax", OpKind::Softmax},
      {"LogSoftmax", OpKind::LogSoftmax},
      {"Flatten", OpKind::Flatten},
      {"Reshape", OpKind::Reshape},
      {"Identity", OpKind::Identity},
      {"Dropout", OpKind::Identity},
      {"Cast", OpKind::Identity},       // to float32 only
      {"Unsqueeze", OpKind::Reshape},   // static row shape only
      {"Squeeze", OpKind::Reshape},     // static row shape only
      {"Transpose", OpKind::Transpose},
      {"BatchNormalization", OpKind::BatchNormalization},
      {"LayerNormalization", OpKind::LayerNormalization},
  };
  return m;
}

// Ops that only move or reshape data: folded by constant_fold.cpp for both dtypes.
bool layout_op(const std::string& op) {
  return op == "Identity" || op == "Dropout" || op == "Cast" || op == "Reshape" || op == "Flatten" ||
         op == "Squeeze" || op == "Unsqueeze" || op == "Transpose";
}

// Ops constant_fold.cpp evaluates that have no runtime kernel.
bool fold_only_op(const std::string& op) {
  return op == "Gather" || op == "Concat" || op == "Slice" || op == "ConstantOfShape" || op == "Range" ||
         op == "Equal" || op == "Where" || op == "Expand";
}

}  // namespace

int Loader::resolve(const OnnxNode& on, const std::string& name) const {
  auto it = ids_.find(name);
  if (it != ids_.end()) return it->second;
  if (producer_.count(name))
    on.fail("uses '" + name + "' before it is produced (nodes are not in topological order)");
  on.fail("input '" + name + "' is not a graph input, an initializer or the output of any node");
}

void Loader::process(const NodeProto& np, int index) {
  const std::string name = np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
  const OnnxNode on(np, name, g_.source);
  const std::string& op = np.op_type();
  const bool ms_gelu = np.domain() == "com.microsoft" && op == "Gelu";
  // mgi.test.Work exists for benchmarks and tests only: it sleeps in proportion
  // to each row's "length" (x[:, 0]), standing in for GPU work without using the
  // CPU. Accepted from that exact domain only; CPU backend only.
  const bool test_work = np.domain() == kTestDomain && op == "Work";
  if (!default_domain(np.domain()) && !ms_gelu && !test_work) unsupported(on);
  const auto rt = runtime_ops().find(op);
  const bool has_kernel = test_work || rt != runtime_ops().end();
  const OpKind kind = test_work ? OpKind::TestWork : has_kernel ? rt->second : OpKind::Identity;
  if (!has_kernel && !fold_only_op(op) && op != "Constant" && op != "Shape") unsupported(on);
  if (np.output_size() == 0) on.fail("has no outputs");

  std::vector<int> in;
  for (const std::string& s : np.input()) in.push_back(s.empty() ? -1 : resolve(on, s));

  if (op == "Constant") {
    add_value(np.output(0), true, constant_value(on));
    return;
  }
  if (op == "Shape") {
    if (in.empty() || in[0] < 0) on.fail("missing required input 0");
    const Shape s = symbolic_shape(on, in[0]);
    const int64_t start = g_.opset >= 15 ? on.get_int("start", 0) : 0;
    const int64_t rank = static_cast<int64_t>(s.size());
    const int64_t end = g_.opset >= 15 ? on.get_int("end", rank) : rank;
    add_value(np.output(0), true, shape_tensor(s, start, end));
    return;
  }

  bool all_const = true;
  for (int id : in) all_const = all_const && (id < 0 || is_const(id));

  if (all_const && test_work) on.fail("needs a runtime input (a test op is never folded)");
  if (all_const) {
    std::vector<Tensor> out;
    bool any_int = false;
    for (int id : in) any_int = any_int || (id >= 0 && const_data(id).dtype == DType::i64);
    if (has_kernel && !layout_op(op) && !any_int) {
      out.push_back(fold_with_kernel(on, build_node(on, kind, in)));
    } else {
      std::vector<const Tensor*> args;
      for (int id : in) args.push_back(id >= 0 ? &const_data(id) : nullptr);
      if (!fold_constant_node(on, g_.opset, args, out)) on.fail("int64 inputs are not supported for this op");
    }
    for (size_t k = 0; k < out.size(); ++k) {
      if (out[k].numel() > kMaxFoldedElements) on.fail("folded constant has too many elements");
      if (k < static_cast<size_t>(np.output_size()) && !np.output(static_cast<int>(k)).empty())
        add_value(np.output(static_cast<int>(k)), true, std::move(out[k]));
    }
    check_extra_outputs(on, out.size());
    return;
  }

  if (!has_kernel) unsupported(on, "; supported only on constant inputs (folded at load time)");
  Node n = build_node(on, kind, in);
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const int id = n.inputs[k];
    if (id >= 0 && is_const(id) && const_data(id).dtype != DType::f32)
      on.fail("input " + std::to_string(k) + " ('" + g_.values[static_cast<size_t>(id)].name +
              "') is an integer constant; expected float32");
  }
  check_extra_outputs(on, 1);
  n.outputs = {add_value(np.output(0), false)};
  track_shapes(n);
  g_.nodes.push_back(std::move(n));
}

// Outputs beyond the first `produced` ones (Dropout mask, BatchNormalization
// running stats, LayerNormalization mean) must not be consumed.
void Loader::check_extra_outputs(const OnnxNode& on, size_t produced) const {
  const auto& outs = on.proto().output();
  for (int k = static_cast<int>(produced); k < outs.size(); ++k)
    if (!outs.Get(k).empty() && used_.count(outs.Get(k)))
      on.fail("output " + std::to_string(k) + " ('" + outs.Get(k) + "') is used, but only output 0 is supported");
}

Tensor Loader::constant_value(const OnnxNode& on) const {
  Tensor t;
  if (const TensorProto* v = on.get_tensor("value"))
    return tensor_from_onnx(*v, where() + "node '" + on.name() + "' (Constant) attribute 'value'");
  if (on.has("value_float")) {
    t.f = {on.get_float("value_float", 0.0f)};
  } else if (on.has("value_floats")) {
    t.f = on.get_floats("value_floats");
    t.shape = {static_cast<int64_t>(t.f.size())};
  } else if (on.has("value_int")) {
    t.dtype = DType::i64;
    t.i = {on.get_int("value_int", 0)};
  } else if (on.has("value_ints")) {
    t.dtype = DType::i64;
    t.i = on.get_ints("value_ints");
    t.shape = {static_cast<int64_t>(t.i.size())};
  } else if (on.has("sparse_value") || on.has("value_string") || on.has("value_strings")) {
    on.fail("sparse and string constants are not supported");
  } else {
    on.fail("missing required attribute 'value'");
  }
  return t;
}

// Shape of a value with the batch as kBatchDim: constants have theirs; a
// runtime value needs static dims apart from the batch.
Shape Loader::symbolic_shape(const OnnxNode& on, int id) const {
  const size_t v = static_cast<size_t>(id);
  if (g_.values[v].is_constant) return g_.values[v].data.shape;
  const std::string& name = g_.values[v].name;
  if (!known1_[v])
    on.fail("needs the shape of '" + name + "', which is not static apart from the batch dimension "
            "(declare fixed sizes for the model inputs' other dimensions)");
  const Shape &a = s1_[v], &b = s2_[v];
  if (!known2_[v] || a.size() != b.size())
    on.fail("the shape of '" + name + "' depends on the batch size in a way that cannot be folded");
  Shape s(a.size());
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] == b[k]) s[k] = a[k];
    else if (a[k] == 1 && b[k] == 2) s[k] = kBatchDim;
    else on.fail("dimension " + std::to_string(k) + " of '" + name + "' is a multiple of the batch size; cannot fold");
  }
  return s;
}

void Loader::track_shapes(const Node& n) {
  bool k1 = true, k2 = true;
  std::vector<Shape> in1, in2;
  for (int id : n.inputs) {
    const size_t v = static_cast<size_t>(id);
    k1 = k1 && (id < 0 || known1_[v]);
    k2 = k2 && (id < 0 || known2_[v]);
    in1.push_back(id < 0 ? Shape{} : s1_[v]);
    in2.push_back(id < 0 ? Shape{} : s2_[v]);
  }
  const size_t out = static_cast<size_t>(n.outputs[0]);
  if (k1) {  // load-time check: a mismatch fails here, naming the node
    s1_[out] = infer_node_shape(n, in1, g_.source, 1);
    known1_[out] = 1;
  }
  if (k1 && k2) {
    try {
      s2_[out] = infer_node_shape(n, in2, g_.source, 2);
      known2_[out] = 1;
    } catch (const ModelError&) {  // fixed-batch exports: only batch 1 fits; checked again at run time
    }
  }
}

Tensor Loader::fold_with_kernel(const OnnxNode& on, const Node& n) const {
  std::vector<Shape> shapes;
  std::vector<const float*> ptrs;
  for (int id : n.inputs) {
    shapes.push_back(id >= 0 ? const_data(id).shape : Shape{});
    ptrs.push_back(id >= 0 ? const_data(id).f.data() : nullptr);
  }
  Tensor r;
  r.shape = infer_node_shape(n, shapes, g_.source, -1);
  const int64_t count = shape_numel(r.shape);
  if (count > kMaxFoldedElements) on.fail("folded constant " + shape_str(r.shape) + " is too large");
  r.f.resize(static_cast<size_t>(count));
  cpu::exec_node(n, shapes, ptrs, r.shape, r.f.data(), cpu::ExecOptions{});
  return r;
}

}  // namespace mgi::onnx_load
