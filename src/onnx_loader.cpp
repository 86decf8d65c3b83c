// ONNX ModelProto -> Graph. Untrusted bytes: every size is checked before it
// drives an allocation, every reference before it is followed. Nodes whose
// inputs are all constants are evaluated here (CPU kernels for float ops,
// constant_fold.cpp for shape arithmetic), so the graph the backends see holds
// only float32 runtime ops.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "constant_fold.hpp"
#include "cpu_ops.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "onnx_attrs.hpp"

namespace mgi {

namespace {

using onnx::NodeProto;
using onnx::TensorProto;

bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

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

class Loader {
 public:
  Loader(const onnx::ModelProto& m, const std::string& source) : m_(m) { g_.source = source; }

  Graph load() {
    check_header();
    load_initializers();
    load_inputs();
    mark_needed();
    const auto& nodes = m_.graph().node();
    for (int i = 0; i < nodes.size(); ++i)
      if (needed_[static_cast<size_t>(i)]) process(nodes.Get(i), i);
    bind_outputs();
    prune();
    return std::move(g_);
  }

 private:
  std::string where() const { return "model " + g_.source + ": "; }
  [[noreturn]] void fail(const std::string& m) const { throw ModelError(where() + m); }

  [[noreturn]] void unsupported(const OnnxNode& on, const std::string& why = "") const {
    const std::string& d = on.proto().domain();
    fail("unsupported ONNX op '" + on.op_type() + "' (node '" + on.name() + "', domain " +
         (d.empty() ? std::string("ai.onnx") : d) + ")" + why);
  }

  int add_value(const std::string& name, bool constant, Tensor data = {}) {
    Value v;
    v.name = name;
    v.is_constant = constant;
    const bool known = constant;
    Shape s = data.shape;
    v.data = std::move(data);
    g_.values.push_back(std::move(v));
    s1_.push_back(s);
    s2_.push_back(s);
    known1_.push_back(known);
    known2_.push_back(known);
    const int id = static_cast<int>(g_.values.size() - 1);
    if (!name.empty()) ids_[name] = id;
    return id;
  }
  bool is_const(int id) const { return id >= 0 && g_.values[static_cast<size_t>(id)].is_constant; }
  const Tensor& const_data(int id) const { return g_.values[static_cast<size_t>(id)].data; }

  void check_header() {
    if (!m_.has_ir_version() || m_.ir_version() <= 0)
      fail("not a valid ONNX model (no ir_version)");
    if (!m_.has_graph()) fail("not a valid ONNX model (no graph)");
    for (const auto& o : m_.opset_import())
      if (default_domain(o.domain())) g_.opset = o.version();
    if (g_.opset <= 0) fail("no opset_import for the default ONNX domain");
    g_.producer = m_.producer_name();
    if (!m_.producer_version().empty())
      g_.producer += (g_.producer.empty() ? "" : " ") + m_.producer_version();
  }

  void load_initializers() {
    const auto& graph = m_.graph();
    if (graph.sparse_initializer_size() > 0) fail("sparse initializers are not supported");
    for (const TensorProto& t : graph.initializer()) {
      if (t.name().empty()) fail("an initializer has no name");
      if (ids_.count(t.name())) fail("initializer '" + t.name() + "' is defined twice");
      Tensor data = tensor_from_onnx(t, where() + "initializer '" + t.name() + "'");
      g_.parameter_count += data.numel();
      add_value(t.name(), true, std::move(data));
    }
  }

  void load_inputs() {
    for (const auto& vi : m_.graph().input()) {
      const std::string& name = vi.name();
      if (name.empty()) fail("a graph input has no name");
      if (ids_.count(name)) {
        if (!g_.values[static_cast<size_t>(ids_[name])].is_constant || input_names_.count(name))
          fail("graph input '" + name + "' is declared twice");
        continue;  // older exporters list initializers as inputs: constants
      }
      input_names_.insert(name);
      const auto& type = vi.type();
      if (!type.has_tensor_type()) fail("input '" + name + "' is not a tensor");
      const auto& tt = type.tensor_type();
      if (tt.elem_type() != TensorProto::FLOAT)
        fail("input '" + name + "' has element type " + onnx_type_name(tt.elem_type()) +
             "; runtime inputs must be float32");
      if (!tt.has_shape()) fail("input '" + name + "' has no declared shape (rank unknown)");
      if (tt.shape().dim_size() == 0)
        fail("input '" + name + "' is a scalar (rank 0); inputs need the batch as their first dimension");
      Shape s;
      for (const auto& d : tt.shape().dim()) s.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : -1);
      const int id = add_value(name, false);
      g_.inputs.push_back(id);
      g_.input_shapes.push_back(s);
      // Shapes at batch 1 and 2 when all other dims are static (for Shape folding and early checks).
      bool fixed = true;
      for (size_t k = 1; k < s.size(); ++k) fixed = fixed && s[k] >= 0;
      if (fixed) {
        s1_[static_cast<size_t>(id)] = s;
        s1_[static_cast<size_t>(id)][0] = 1;
        s2_[static_cast<size_t>(id)] = s;
        s2_[static_cast<size_t>(id)][0] = 2;
        known1_[static_cast<size_t>(id)] = known2_[static_cast<size_t>(id)] = 1;
      }
    }
    if (g_.inputs.empty()) fail("has no runtime inputs (every graph input is an initializer)");
  }

  // Which nodes the graph outputs depend on; the rest are never loaded.
  void mark_needed() {
    const auto& graph = m_.graph();
    const auto& nodes = graph.node();
    for (int i = 0; i < nodes.size(); ++i)
      for (const std::string& out : nodes.Get(i).output()) {
        if (out.empty()) continue;
        if (ids_.count(out)) fail("node output '" + out + "' has the name of a graph input or initializer");
        if (!producer_.emplace(out, i).second)
          fail("value '" + out + "' is produced by two nodes (" + std::to_string(producer_[out]) + " and " +
               std::to_string(i) + ")");
      }
    needed_.assign(static_cast<size_t>(nodes.size()), 0);
    std::vector<std::string> todo;
    if (graph.output_size() == 0) fail("has no graph outputs");
    for (const auto& o : graph.output()) todo.push_back(o.name());
    while (!todo.empty()) {
      const std::string name = todo.back();
      todo.pop_back();
      if (!used_.insert(name).second) continue;
      auto it = producer_.find(name);
      if (it == producer_.end() || needed_[static_cast<size_t>(it->second)]) continue;
      needed_[static_cast<size_t>(it->second)] = 1;
      for (const std::string& in : nodes.Get(it->second).input())
        if (!in.empty()) todo.push_back(in);
    }
  }

  int resolve(const OnnxNode& on, const std::string& name) const {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    if (producer_.count(name))
      on.fail("uses '" + name + "' before it is produced (nodes are not in topological order)");
    on.fail("input '" + name + "' is not a graph input, an initializer or the output of any node");
  }

  void process(const NodeProto& np, int index) {
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
  void check_extra_outputs(const OnnxNode& on, size_t produced) const {
    const auto& outs = on.proto().output();
    for (int k = static_cast<int>(produced); k < outs.size(); ++k)
      if (!outs.Get(k).empty() && used_.count(outs.Get(k)))
        on.fail("output " + std::to_string(k) + " ('" + outs.Get(k) + "') is used, but only output 0 is supported");
  }

  Tensor constant_value(const OnnxNode& on) const {
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
  Shape symbolic_shape(const OnnxNode& on, int id) const {
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

  void track_shapes(const Node& n) {
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

  Tensor fold_with_kernel(const OnnxNode& on, const Node& n) const {
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

  void want_inputs(const OnnxNode& on, const std::vector<int>& in, size_t lo, size_t hi) const {
    if (in.size() < lo || in.size() > hi)
      on.fail("expects " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
              " inputs, has " + std::to_string(in.size()));
    for (size_t k = 0; k < lo; ++k)
      if (in[k] < 0) on.fail("required input " + std::to_string(k) + " is missing");
  }

  std::vector<int64_t> const_ints(const OnnxNode& on, int id, const char* what) const {
    if (!is_const(id) || const_data(id).dtype != DType::i64)
      on.fail(std::string("input '") + what + "' must be an int64 constant (computable at load time)");
    return const_data(id).i;
  }

  Node build_node(const OnnxNode& on, OpKind kind, const std::vector<int>& in) const {
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

  const Tensor& const_ints_tensor(const OnnxNode& on, int id) const {
    const_ints(on, id, "axes");
    return const_data(id);
  }

  void bind_outputs() {
    for (const auto& vi : m_.graph().output()) {
      const std::string& name = vi.name();
      auto it = ids_.find(name);
      if (it == ids_.end()) fail("graph output '" + name + "' is not produced by any node");
      if (is_const(it->second))
        fail("graph output '" + name + "' is a constant (it does not depend on the inputs); not supported");
      if (vi.type().has_tensor_type()) {
        const int32_t t = vi.type().tensor_type().elem_type();
        if (t != TensorProto::UNDEFINED && t != TensorProto::FLOAT)
          fail("graph output '" + name + "' has element type " + onnx_type_name(t) + "; outputs must be float32");
      }
      g_.outputs.push_back(it->second);
    }
  }

  // Drops nodes the outputs do not need (e.g. a producer only read by a
  // folded Shape) and values nothing refers to; renumbers value ids.
  void prune() {
    std::vector<char> live(g_.values.size(), 0);
    for (int id : g_.outputs) live[static_cast<size_t>(id)] = 1;
    std::vector<Node> kept;
    for (size_t k = g_.nodes.size(); k-- > 0;) {
      Node& n = g_.nodes[k];
      if (!live[static_cast<size_t>(n.outputs[0])]) continue;
      for (int id : n.inputs)
        if (id >= 0) live[static_cast<size_t>(id)] = 1;
      kept.push_back(std::move(n));
    }
    std::reverse(kept.begin(), kept.end());
    for (int id : g_.inputs) live[static_cast<size_t>(id)] = 1;
    std::vector<int> remap(g_.values.size(), -1);
    std::vector<Value> values;
    for (size_t v = 0; v < g_.values.size(); ++v)
      if (live[v]) {
        remap[v] = static_cast<int>(values.size());
        values.push_back(std::move(g_.values[v]));
      }
    auto map = [&](std::vector<int>& ids) {
      for (int& id : ids)
        if (id >= 0) id = remap[static_cast<size_t>(id)];
    };
    for (Node& n : kept) {
      map(n.inputs);
      map(n.outputs);
    }
    map(g_.inputs);
    map(g_.outputs);
    g_.values = std::move(values);
    g_.nodes = std::move(kept);
  }

  const onnx::ModelProto& m_;
  Graph g_;
  std::unordered_map<std::string, int> ids_;          // value name -> id, as defined so far
  std::unordered_map<std::string, int> producer_;     // value name -> ONNX node index
  std::unordered_set<std::string> used_;              // names the graph outputs depend on
  std::unordered_set<std::string> input_names_;
  std::vector<char> needed_;
  // Per value: shape at batch 1 and 2 (when known), for Shape folding and load-time checks.
  std::vector<Shape> s1_, s2_;
  std::vector<char> known1_, known2_;
};

}  // namespace

Graph load_onnx(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes))
    throw ModelError("model " + source + ": not a valid ONNX model (protobuf parse failed)");
  return Loader(model, source).load();
}

}  // namespace mgi
