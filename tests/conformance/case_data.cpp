// A conformance case's ONNX side: is it in scope, its data sets, and the
// model with its inputs wrapped so the loader takes any input shape.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "cast.hpp"
#include "conformance.hpp"
#include "error.hpp"
#include "onnx_attrs.hpp"

namespace mgi::conformance {

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::set<std::string> initializer_names(const onnx::GraphProto& g) {
  std::set<std::string> names;
  for (const auto& t : g.initializer()) names.insert(t.name());
  return names;
}

// "" when the value is a tensor of a type the tool has at run time, else the reason.
std::string value_misfit(const onnx::ValueInfoProto& vi, const char* what) {
  const std::string who = std::string(what) + " '" + vi.name() + "'";
  const auto& t = vi.type();
  if (t.has_sequence_type()) return "non-tensor: " + who + " is a sequence";
  if (t.has_optional_type()) return "non-tensor: " + who + " is an optional";
  if (t.has_map_type()) return "non-tensor: " + who + " is a map";
  if (t.has_sparse_tensor_type()) return "non-tensor: " + who + " is a sparse tensor";
  if (!t.has_tensor_type()) return "non-tensor: " + who + " has no tensor type";
  const int32_t et = t.tensor_type().elem_type();
  DType d;
  // double: the loader refuses it as a runtime type (tensor_from_onnx would read it as float32).
  if (!dtype_from_onnx(et, d) || et == onnx::TensorProto::DOUBLE)
    return "type: " + onnx_type_name(et) + " (" + who + ")";
  return "";
}

// input_0.pb, input_1.pb, ... (or output_*) of one data set, in order. `types`:
// the model's declared element types of those values.
void read_tensors(const fs::path& set_dir, const std::string& prefix, const std::string& where,
                  const std::vector<int32_t>& types, std::vector<Tensor>& out, std::vector<onnx::TensorProto>* protos) {
  for (size_t k = 0;; ++k) {
    const fs::path p = set_dir / (prefix + std::to_string(k) + ".pb");
    if (!fs::exists(p)) break;
    onnx::TensorProto t;
    if (!t.ParseFromString(read_bytes(p))) throw std::runtime_error(p.filename().string() + " is not a TensorProto");
    // ONNX 1.12's suite stores bfloat16 data as uint16 (numpy has no bfloat16): the same bits.
    if (t.data_type() == onnx::TensorProto::UINT16 && k < types.size() && types[k] == onnx::TensorProto::BFLOAT16)
      t.set_data_type(onnx::TensorProto::BFLOAT16);
    out.push_back(tensor_from_onnx(t, where + "/" + p.filename().string()));
    if (protos) protos->push_back(std::move(t));
  }
}

int32_t elem_type(const onnx::ValueInfoProto& vi) {
  return vi.type().has_tensor_type() ? vi.type().tensor_type().elem_type() : 0;
}

}  // namespace

std::vector<std::string> unsupported_ops(const onnx::ModelProto& model, const std::string& bytes,
                                         const std::string& name) {
  std::vector<std::string> ops;
  try {
    for (const OpUse& u : model_ops(bytes, name))
      if (!u.supported) ops.push_back(u.op);
  } catch (const ModelError&) {
    // No opset of the default domain (the ai.onnx.preview.training cases): nothing there is supported.
    std::set<std::string> seen;
    for (const auto& n : model.graph().node())
      if (seen.insert(n.domain().empty() ? n.op_type() : n.domain() + "." + n.op_type()).second)
        ops.push_back(n.domain().empty() ? n.op_type() : n.domain() + "." + n.op_type());
  }
  std::sort(ops.begin(), ops.end());
  return ops;
}

std::string out_of_scope(const onnx::ModelProto& model, const std::string& bytes, const std::string& name) {
  const std::vector<std::string> ops = unsupported_ops(model, bytes, name);
  if (!ops.empty()) {
    std::string s = "unsupported op: ";
    for (size_t k = 0; k < ops.size(); ++k) s += (k ? ", " : "") + ops[k];
    return s;
  }
  const onnx::GraphProto& g = model.graph();
  const std::set<std::string> init = initializer_names(g);
  int runtime_inputs = 0;
  for (const auto& vi : g.input()) {
    if (init.count(vi.name())) continue;
    ++runtime_inputs;
    const std::string why = value_misfit(vi, "input");
    if (!why.empty()) return why;
  }
  for (const auto& vi : g.output()) {
    const std::string why = value_misfit(vi, "output");
    if (!why.empty()) return why;
  }
  if (runtime_inputs == 0) return "no inputs: every graph input is an initializer (the tool runs models on input data)";
  return "";
}

std::vector<DataSet> read_data_sets(const std::string& case_dir, const onnx::ModelProto& model) {
  const std::set<std::string> init = initializer_names(model.graph());
  std::vector<int32_t> in_types, out_types;
  for (const auto& vi : model.graph().input())
    if (!init.count(vi.name())) in_types.push_back(elem_type(vi));
  for (const auto& vi : model.graph().output()) out_types.push_back(elem_type(vi));
  std::vector<DataSet> sets;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(case_dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& d : dirs) {
    DataSet s;
    s.name = d.filename().string();
    const std::string where = fs::path(case_dir).filename().string() + "/" + s.name;
    read_tensors(d, "input_", where, in_types, s.inputs, &s.input_protos);
    read_tensors(d, "output_", where, out_types, s.outputs, nullptr);
    sets.push_back(std::move(s));
  }
  return sets;
}

std::string wrap_inputs(const onnx::ModelProto& model, const std::vector<size_t>& ranks) {
  onnx::ModelProto m = model;
  int64_t opset = 0;
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  onnx::GraphProto* g = m.mutable_graph();
  const std::set<std::string> init = initializer_names(*g);
  const std::string axes = "mgi_conformance_axes0";
  std::vector<onnx::NodeProto> squeezes;
  size_t k = 0;
  for (int i = 0; i < g->input_size(); ++i) {
    onnx::ValueInfoProto* vi = g->mutable_input(i);
    if (init.count(vi->name())) continue;
    const std::string inner = vi->name(), outer = inner + "__mgi_batched";
    vi->set_name(outer);
    onnx::TensorShapeProto* shape = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
    shape->clear_dim();
    shape->add_dim()->set_dim_param("batch");
    const size_t rank = k < ranks.size() ? ranks[k] : 0;
    for (size_t d = 0; d < rank; ++d) shape->add_dim()->set_dim_param("d" + std::to_string(d));
    ++k;
    onnx::NodeProto n;
    n.set_op_type("Squeeze");
    n.set_name("mgi_conformance_unbatch_" + std::to_string(i));
    n.add_input(outer);
    if (opset >= 13) {
      n.add_input(axes);
    } else {
      onnx::AttributeProto* a = n.add_attribute();
      a->set_name("axes");
      a->set_type(onnx::AttributeProto::INTS);
      a->add_ints(0);
    }
    n.add_output(inner);
    squeezes.push_back(std::move(n));
  }
  if (opset >= 13) {
    onnx::TensorProto* t = g->add_initializer();
    t->set_name(axes);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(1);
    t->add_int64_data(0);
  }
  std::vector<onnx::NodeProto> nodes(g->node().begin(), g->node().end());
  g->clear_node();
  for (auto& n : squeezes) *g->add_node() = std::move(n);
  for (auto& n : nodes) *g->add_node() = std::move(n);
  return m.SerializeAsString();
}

bool inline_int64_inputs(const onnx::ModelProto& model, const DataSet& set, onnx::ModelProto& out,
                         std::vector<Tensor>& inputs) {
  out = model;
  inputs.clear();
  onnx::GraphProto* g = out.mutable_graph();
  const std::set<std::string> init = initializer_names(*g);
  std::vector<onnx::ValueInfoProto> kept;
  size_t k = 0, inlined = 0;
  for (const auto& vi : g->input()) {
    if (init.count(vi.name())) {
      kept.push_back(vi);
      continue;
    }
    if (k >= set.inputs.size()) return false;
    if (set.inputs[k].dtype == DType::i64) {
      onnx::TensorProto t = set.input_protos[k];
      t.set_name(vi.name());
      *g->add_initializer() = std::move(t);
      ++inlined;
    } else {
      kept.push_back(vi);
      inputs.push_back(set.inputs[k]);
    }
    ++k;
  }
  if (inlined == 0 || inputs.empty()) return false;
  g->clear_input();
  for (auto& vi : kept) *g->add_input() = std::move(vi);
  return true;
}

}  // namespace mgi::conformance
