#include "model_io.hpp"

#include <set>

#include "error.hpp"

namespace mgi {

namespace {
std::string declared(const Shape& s) {
  std::string r = "[batch";
  for (size_t k = 1; k < s.size(); ++k) r += ", " + (s[k] < 0 ? std::string("?") : std::to_string(s[k]));
  return r + "]";
}

std::string output_names(const Graph& g) {
  std::string r;
  for (size_t k = 0; k < g.outputs.size(); ++k) r += (k ? ", " : "") + g.output_name(k);
  return r;
}
}  // namespace

ModelIo match_model(const Graph& graph, const std::string& model_file, const InputDescription& input,
                    const std::vector<OutputBinding>& bindings) {
  ModelIo io;
  if (graph.inputs.size() != 1)
    throw ModelError("model '" + model_file + "' has " + std::to_string(graph.inputs.size()) +
                     " runtime inputs; static mode feeds exactly one (the input dataset)");
  const Shape& want = graph.input_shapes[0];
  const Shape got_row = row_shape(input.shape);
  bool fits = want.size() == input.shape.size();
  for (size_t k = 1; fits && k < want.size(); ++k) fits = want[k] < 0 || want[k] == input.shape[k];
  for (size_t k = 0; fits && k < got_row.size(); ++k) fits = got_row[k] > 0;
  if (!fits)
    throw DataError("input dataset '" + input.dataset + "' in '" + input.file + "' has shape " +
                    shape_str(input.shape) + " (" + input.dtype + ") but model '" + model_file +
                    "' input '" + graph.input_name(0) + "' expects " + declared(want));
  io.input_rows = {got_row};
  io.input_row_elements = shape_numel(got_row);

  // Shape inference at two batch sizes proves the batch is the outputs' first dim.
  auto at = [&](int64_t b) {
    Shape s = got_row;
    s.insert(s.begin(), b);
    return graph.infer_shapes({s});
  };
  const auto s1 = at(1), s2 = at(2);

  std::vector<std::pair<int, std::string>> chosen;
  if (bindings.size() == 1 && bindings[0].onnx_output.empty()) {
    if (graph.outputs.size() != 1)
      throw ConfigError("output.dataset: model '" + model_file + "' has " +
                        std::to_string(graph.outputs.size()) + " outputs (" + output_names(graph) +
                        "); map each one you want to a dataset, e.g. output.dataset: {" +
                        graph.output_name(0) + ": /" + graph.output_name(0) + "}");
    chosen.push_back({0, bindings[0].dataset});
  } else {
    for (const auto& b : bindings) {
      int found = -1;
      for (size_t k = 0; k < graph.outputs.size(); ++k)
        if (graph.output_name(k) == b.onnx_output) found = static_cast<int>(k);
      if (found < 0)
        throw ConfigError("output.dataset." + b.onnx_output + ": model '" + model_file +
                          "' has no output named '" + b.onnx_output + "' (outputs: " +
                          output_names(graph) + ")");
      chosen.push_back({found, b.dataset});
    }
  }
  std::set<std::string> seen;
  for (const auto& [k, path] : chosen) {
    if (!seen.insert(path).second)
      throw ConfigError("output.dataset: dataset '" + path + "' is used for two outputs");
    const Shape& a = s1[graph.outputs[k]];
    const Shape& b = s2[graph.outputs[k]];
    if (a.empty() || a[0] != 1 || b[0] != 2 || row_shape(a) != row_shape(b))
      throw ModelError("model '" + model_file + "' output '" + graph.output_name(k) + "' has shape " +
                       shape_str(b) + " for a batch of 2 rows; expected the batch as its first dimension");
    if (shape_numel(row_shape(a)) == 0)
      throw ModelError("model '" + model_file + "' output '" + graph.output_name(k) + "' has shape " +
                       shape_str(a) + ": zero elements per row");
    io.outputs.push_back({path, row_shape(a)});
    io.graph_output.push_back(k);
    io.output_row_bytes += shape_numel(row_shape(a)) * static_cast<int64_t>(sizeof(float));
  }
  return io;
}

}  // namespace mgi
