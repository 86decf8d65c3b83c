// One conformance case, start to end: is it in scope, its data, the model
// adapted where the tool refuses only the suite's packaging of a check, the
// graph path and the backend path, each output compared (docs/CONFORMANCE.md).
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

#include "conformance.hpp"
#include "error.hpp"

namespace mgi::conformance {

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::unique_ptr<Backend> make_backend(const std::string& kind) {
  if (kind == "cuda") return make_cuda_backend(0);
  return make_cpu_backend(1);
}

// Outputs against a data set's, "" when all match.
std::string check_outputs(const Graph& g, const DataSet& s, const std::vector<Tensor>& got) {
  if (got.size() != s.outputs.size())
    return "the model has " + std::to_string(got.size()) + " output(s), " + s.name + " " +
           std::to_string(s.outputs.size());
  for (size_t k = 0; k < got.size(); ++k) {
    const std::string d = compare(got[k], s.outputs[k]);
    if (!d.empty()) return "output '" + g.output_name(k) + "' (" + s.name + "): " + d;
  }
  return "";
}

// The graph path's model: the case's, with its inputs wrapped (wrap_inputs).
Graph load_wrapped(const onnx::ModelProto& m, const std::vector<Tensor>& inputs, const std::string& name) {
  std::vector<size_t> ranks;
  for (const Tensor& t : inputs) ranks.push_back(t.shape.size());
  return load_onnx(wrap_inputs(m, ranks), name);
}
std::vector<Tensor> batch_of_one(std::vector<Tensor> in) {
  for (Tensor& t : in) t.shape.insert(t.shape.begin(), 1);
  return in;
}

// The first ModelError of loading and planning the graph path's model, "" if none.
std::string graph_refusal(const onnx::ModelProto& m, const std::vector<Tensor>& inputs, const std::string& name) {
  try {
    const Graph g = load_wrapped(m, inputs, name);
    std::vector<Shape> shapes;
    for (const Tensor& t : batch_of_one(to_input_types(g, inputs))) shapes.push_back(t.shape);
    (void)g.plan(shapes);
  } catch (const ModelError& e) {
    return e.what();
  } catch (const std::exception&) {
  }
  return "";
}

// What a data set runs: the case's model and data, adapted where the tool
// refuses the suite's form of a check but not the op itself (docs/CONFORMANCE.md):
// - an output the op does not produce (LayerNormalization's Mean and
//   InvStdDev, Dropout's mask) is dropped from the graph outputs and not compared;
// - shape-like int64 inputs become constants (inline_int64_inputs).
struct Variant {
  onnx::ModelProto model;
  DataSet set;
  std::string note;  // how it was adapted: ", output 'Mean' not compared"
};

Variant adapt(const onnx::ModelProto& model, const DataSet& set, const std::string& name) {
  Variant v{model, set, ""};
  static const std::regex extra_output("output [0-9]+ \\('([^']+)'\\) is used, but only");
  std::smatch mt;
  std::string why = graph_refusal(v.model, v.set.inputs, name);
  for (int tries = 0; tries < 8 && std::regex_search(why, mt, extra_output); ++tries) {
    auto* outs = v.model.mutable_graph()->mutable_output();
    int k = 0;
    while (k < outs->size() && outs->Get(k).name() != mt[1].str()) ++k;
    if (k == outs->size() || outs->size() == 1 || static_cast<size_t>(k) >= v.set.outputs.size()) break;
    outs->DeleteSubrange(k, 1);
    v.set.outputs.erase(v.set.outputs.begin() + k);
    v.note += ", output '" + mt[1].str() + "' not compared";
    why = graph_refusal(v.model, v.set.inputs, name);
  }
  if (why.find("must be known before the batch runs") != std::string::npos) {
    onnx::ModelProto m2;
    std::vector<Tensor> in2;
    if (inline_int64_inputs(v.model, v.set, m2, in2)) {
      v.model = std::move(m2);
      v.set.inputs = std::move(in2);
      v.note += ", int64 inputs as constants";
    }
  }
  return v;
}

// One data set: the graph path (cpu), then the backend path where the case fits the batch contract.
Outcome run_set(const onnx::ModelProto& model, const DataSet& data, const std::string& name, const std::string& backend) {
  Outcome ok{Status::pass, "", "", ""};
  std::string stage = "load";
  const Variant v = adapt(model, data, name);
  const onnx::ModelProto& m = v.model;
  const DataSet& set = v.set;
  const std::vector<Tensor>& inputs = set.inputs;
  const std::string& note = v.note;
  try {
    if (backend == "cpu") {
      // Every case: the whole graph on host tensors at the data's own shapes.
      const Graph g = load_wrapped(m, inputs, name);
      stage = "graph";
      const std::string d = check_outputs(g, set, run_graph_on_host(g, batch_of_one(to_input_types(g, inputs))));
      if (!d.empty()) return fail("wrong values", "graph" + note + ": " + d);
      ok.path = "graph";
    }
    // Where the case fits the batch contract: the Backend interface (fusion, buffer reuse; CUDA).
    std::string misfit;
    Graph orig;
    stage = "load";
    try {
      orig = load_onnx(m.SerializeAsString(), name);
    } catch (const ModelError& e) {
      misfit = std::string("the model loads only with its inputs wrapped (") + e.what() + ")";
    }
    std::vector<Tensor> typed;
    if (misfit.empty()) {
      typed = to_input_types(orig, inputs);
      misfit = batch_misfit(orig, typed);
    }
    if (!misfit.empty()) {
      if (backend == "cpu") {
        ok.path += note;
        ok.detail = "backend path not taken: " + misfit;
        return ok;
      }
      return {Status::skip, "not batch-shaped", "", "not batch-shaped: " + misfit};
    }
    stage = "backend";
    std::unique_ptr<Backend> be = make_backend(backend);
    const std::string d = check_outputs(orig, set, run_on_backend(*be, orig, typed));
    if (!d.empty()) return fail("wrong values", "backend" + note + ": " + d);
    ok.path = (ok.path.empty() ? "backend" : ok.path + "+backend") + note;
    return ok;
  } catch (const ModelError& e) {
    return fail("refused", stage + note + ": " + e.what());
  } catch (const std::exception& e) {
    return fail("error", stage + note + ": " + e.what());
  }
}

}  // namespace

// One case, start to end.
Outcome run_case(const std::string& case_dir, const std::string& backend) {
  const fs::path dir(case_dir);
  const std::string name = dir.filename().string();
  const std::string bytes = read_bytes(dir / "model.onnx");
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) return fail("error", "load: model.onnx does not parse");
  const std::string why = out_of_scope(model, bytes, name);
  if (!why.empty()) return {Status::skip, why.substr(0, why.find(':')), "", why};
  std::vector<DataSet> sets;
  try {
    sets = read_data_sets(case_dir, model);
  } catch (const std::exception& e) {
    return fail("error", std::string("data: ") + e.what());
  }
  if (sets.empty()) return fail("error", "data: no test_data_set_* folder");
  Outcome r;
  for (const DataSet& s : sets) {
    r = run_set(model, s, name, backend);
    if (r.status != Status::pass) return r;
  }
  return r;
}

}  // namespace mgi::conformance
