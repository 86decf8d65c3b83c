// ONNX ModelProto -> Graph. Untrusted bytes: every size is checked before it
// drives an allocation, every reference before it is followed. Nodes whose
// inputs are all constants are evaluated here (CPU kernels for float ops,
// constant_fold.cpp for shape arithmetic), so the graph the backends see holds
// only float32 runtime ops.
//
// This file: the graph as a whole (header, initializers, inputs, which nodes
// the outputs need, outputs, pruning). Each node: onnx_loader_nodes.cpp;
// a node's inputs and attributes per op: onnx_loader_ops.cpp.
#include <algorithm>

#include "onnx_loader_internal.hpp"

namespace mgi {

namespace onnx_load {

Graph Loader::load() {
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

int Loader::add_value(const std::string& name, bool constant, Tensor data) {
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

void Loader::check_header() {
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

void Loader::load_initializers() {
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

void Loader::load_inputs() {
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
void Loader::mark_needed() {
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

void Loader::bind_outputs() {
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
void Loader::prune() {
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

}  // namespace onnx_load

Graph load_onnx(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes))
    throw ModelError("model " + source + ": not a valid ONNX model (protobuf parse failed)");
  return onnx_load::Loader(model, source).load();
}

}  // namespace mgi
