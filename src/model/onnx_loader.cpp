// ONNX ModelProto -> Graph. Untrusted bytes: every size is checked before it
// drives an allocation, every reference before it is followed. Every op comes
// from the registry (op_registry.hpp); nodes whose inputs are all constants are
// evaluated here by their CPU kernels, so the graph the backends see holds
// runtime ops and host ops (shape arithmetic) only.
//
// This file: the graph as a whole (header, initializers, inputs, which nodes
// the outputs need, outputs, pruning, the load-time shape check). Each node:
// onnx_loader_nodes.cpp.
#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <climits>
#include <set>

#include "cast.hpp"
#include "onnx_loader_internal.hpp"
#include "op_registry.hpp"

namespace mgi {

namespace onnx_load {

Graph Loader::load() {
  check_header();
  load_initializers();
  load_inputs();
  mark_needed();
  check_supported();
  const auto& nodes = m_.graph().node();
  for (int i = 0; i < nodes.size(); ++i)
    if (needed_[static_cast<size_t>(i)]) process(nodes.Get(i), i);
  bind_outputs();
  prune();
  check_shapes();
  if (external_) g_.external_files = external_->files();
  return std::move(g_);
}

int Loader::add_value(const std::string& name, DType dtype, bool constant, Tensor data) {
  Value v;
  v.name = name;
  v.dtype = constant ? data.dtype : dtype;
  v.is_constant = constant;
  v.data = std::move(data);
  g_.values.push_back(std::move(v));
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
    Tensor data = tensor_from_onnx(t, where() + "initializer '" + t.name() + "'", external_);
    g_.parameter_count += data.numel();
    add_value(t.name(), data.dtype, true, std::move(data));
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
    DType dtype;
    if (!dtype_from_onnx(tt.elem_type(), dtype) || tt.elem_type() == TensorProto::DOUBLE)
      fail("input '" + name + "' has element type " + onnx_type_name(tt.elem_type()) +
           "; runtime inputs must be float32, float16, bfloat16, int64, int32, int8, uint8 or bool");
    if (!tt.has_shape()) fail("input '" + name + "' has no declared shape (rank unknown)");
    if (tt.shape().dim_size() == 0)
      fail("input '" + name + "' is a scalar (rank 0); inputs need the batch as their first dimension");
    Shape s;
    std::vector<std::string> names;
    for (const auto& d : tt.shape().dim()) {
      s.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : -1);
      names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
    }
    const int id = add_value(name, dtype, false);
    g_.inputs.push_back(id);
    g_.input_shapes.push_back(s);
    g_.input_dim_names.push_back(std::move(names));
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
    if (is_host(it->second))
      fail("graph output '" + name + "' is computed from shapes alone (it does not depend on the input data); "
           "not supported");
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
    bool any = false;
    for (int id : n.outputs) any = any || (id >= 0 && live[static_cast<size_t>(id)]);
    if (!any) continue;
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

// Every needed node's op must be in the registry; all the ones that are not are
// named at once, so one dry run lists everything a model lacks.
void Loader::check_supported() const {
  const auto& nodes = m_.graph().node();
  std::string first, more;
  int count = 0;
  std::set<std::string> named;  // one mention per op type
  for (int i = 0; i < nodes.size(); ++i) {
    if (!needed_[static_cast<size_t>(i)]) continue;
    const NodeProto& np = nodes.Get(i);
    if (OpRegistry::get().find(np.domain(), np.op_type(), g_.opset)) continue;
    const std::string dom = default_domain(np.domain()) ? std::string("ai.onnx") : np.domain();
    if (!named.insert(dom + "." + np.op_type()).second) continue;
    const std::string node = np.name().empty() ? np.op_type() + "_" + std::to_string(i) : np.name();
    const std::string what = "'" + np.op_type() + "' (node '" + node + "', domain " + dom + ")";
    if (count++ == 0) first = what;
    else more += (more.empty() ? "" : ", ") + what;
  }
  if (count == 0) return;
  std::string msg = "unsupported ONNX op " + first;
  if (!more.empty()) msg += "; also unsupported: " + more;
  fail(msg);
}

// With every non-batch input dim declared, the whole graph is checked now at
// batches 1 and 2, so a shape mismatch names its node before any data is
// read. Dynamic dims (a sequence length) are checked by the dry run against
// the dataset. A model that only fits batch 1 (a fixed-batch export) passes here
// and is run with that batch.
void Loader::check_shapes() const {
  std::vector<Shape> at1;
  for (const Shape& s : g_.input_shapes) {
    for (size_t k = 1; k < s.size(); ++k)
      if (s[k] < 0) return;
    Shape a = s;
    if (a[0] < 1) a[0] = 1;  // a fixed batch (e.g. [4, 3, 224, 224]) is checked at that batch
    at1.push_back(a);
  }
  (void)g_.plan(at1);
}

}  // namespace onnx_load

namespace {
// Protobuf's own limit for one message is 2 GiB; the total-bytes limit is
// raised to it explicitly (older protobuf defaults were 64 MiB).
void parse_model(const std::string& bytes, const std::string& source, onnx::ModelProto& model) {
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw ModelError("model " + source + ": " + std::to_string(bytes.size()) +
                     " bytes; an ONNX file over 2 GiB cannot be parsed (protobuf's limit): save the model with "
                     "its weights in external data files");
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            static_cast<int>(bytes.size()));
  in.SetTotalBytesLimit(INT_MAX);
  if (bytes.empty() || !model.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
    throw ModelError("model " + source + ": not a valid ONNX model (protobuf parse failed)");
}
}  // namespace

Graph load_onnx(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  parse_model(bytes, source, model);
  return onnx_load::Loader(model, source).load();
}

Graph load_onnx(const std::string& bytes, const std::string& source, const std::string& data_dir) {
  onnx::ModelProto model;
  parse_model(bytes, source, model);
  ExternalData external(data_dir, source);
  return onnx_load::Loader(model, source, &external).load();
}

int64_t model_fixed_batch(const Graph& graph) {
  int64_t batch = 0;
  size_t first = 0;
  for (size_t k = 0; k < graph.input_shapes.size(); ++k) {
    const Shape& s = graph.input_shapes[k];
    if (s.empty() || s[0] < 0) continue;
    if (s[0] == 0)
      throw ModelError("model " + graph.source + ": input '" + graph.input_name(k) + "' has shape " +
                       shape_str(s) + ": a batch dimension of 0");
    if (batch == 0) {
      batch = s[0];
      first = k;
    } else if (s[0] != batch) {
      throw ModelError("model " + graph.source + ": inputs '" + graph.input_name(first) + "' " +
                       shape_str(graph.input_shapes[first]) + " and '" + graph.input_name(k) + "' " + shape_str(s) +
                       " fix different batch sizes");
    }
  }
  return batch;
}

}  // namespace mgi
