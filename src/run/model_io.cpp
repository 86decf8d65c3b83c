#include "model_io.hpp"

#include <algorithm>
#include <set>

#include "error.hpp"

namespace mgi {

namespace {

std::string output_names(const Graph& g) {
  std::string r;
  for (size_t k = 0; k < g.outputs.size(); ++k) r += (k ? ", " : "") + g.output_name(k);
  return r;
}

// Binds graph outputs to written datasets. s1, s2: value shapes at batch 1 and 2;
// sv (optional): at batch 1 with a longer sequence, to reject seq-shaped outputs.
void bind_outputs(ModelIo& io, const Graph& graph, const std::string& model_file,
                  const std::vector<OutputBinding>& bindings, const std::vector<Shape>& s1,
                  const std::vector<Shape>& s2, const std::vector<Shape>* sv) {
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
    if (sv && row_shape((*sv)[graph.outputs[k]]) != row_shape(a))
      throw ModelError("model '" + model_file + "' output '" + graph.output_name(k) + "' has a per-row shape (" +
                       shape_str(row_shape(a)) + " vs " + shape_str(row_shape((*sv)[graph.outputs[k]])) +
                       ") that depends on the sequence length; with ragged inputs every written output "
                       "must be fixed-shape per row (pool over the sequence)");
    io.outputs.push_back({path, row_shape(a), graph.output_type(static_cast<size_t>(k))});
    io.graph_output.push_back(k);
    io.output_row_bytes += io.outputs.back().row_bytes();
  }
}
}  // namespace

ActivationSize activation_size(const Graph& graph, const std::vector<Shape>& input_rows) {
  auto at = [&](int64_t b) {
    std::vector<Shape> in = input_rows;
    for (Shape& s : in) s.insert(s.begin(), b);
    return graph.infer_shapes(in);
  };
  const std::vector<Shape> s1 = at(1), s2 = at(2);
  ActivationSize a;
  for (size_t v = 0; v < graph.values.size() && v < s1.size(); ++v) {
    if (graph.values[v].is_constant) continue;
    const int64_t n1 = shape_numel(s1[v]), n2 = shape_numel(s2[v]);
    const int64_t row = std::max<int64_t>(0, n2 - n1);
    const auto size = static_cast<int64_t>(dtype_size(graph.values[v].dtype));
    a.per_row += row * size;
    a.fixed += std::max<int64_t>(0, n1 - row) * size;
  }
  return a;
}

ModelIo match_model(const Graph& graph, const std::string& model_file, const InputDescription& input,
                    const std::vector<OutputBinding>& bindings) {
  ModelIo io;
  if (graph.inputs.size() != 1)
    throw ModelError("model '" + model_file + "' has " + std::to_string(graph.inputs.size()) +
                     " runtime inputs; a fixed-shape input dataset feeds exactly one (set input.offsets for "
                     "ragged rows)");
  const Shape& want = graph.input_shapes[0];
  const Shape got_row = row_shape(input.shape);
  bool fits = want.size() == input.shape.size();
  for (size_t k = 1; fits && k < want.size(); ++k) fits = want[k] < 0 || want[k] == input.shape[k];
  for (size_t k = 0; fits && k < got_row.size(); ++k) fits = got_row[k] > 0;
  if (!fits)
    throw DataError("input dataset '" + input.dataset + "' in '" + input.file + "' has shape " +
                    shape_str(input.shape) + " (" + input.dtype + ") but model '" + model_file +
                    "' input '" + graph.input_name(0) + "' expects " + batch_shape_str(want));
  io.input_rows = {got_row};
  io.input_row_elements = shape_numel(got_row);
  io.input_row_bytes = io.input_row_elements * static_cast<int64_t>(dtype_size(graph.input_type(0)));

  // Shape inference at two batch sizes proves the batch is the outputs' first dim.
  auto at = [&](int64_t b) {
    Shape s = got_row;
    s.insert(s.begin(), b);
    return graph.infer_shapes({s});
  };
  const auto s1 = at(1), s2 = at(2);

  bind_outputs(io, graph, model_file, bindings, s1, s2, nullptr);
  return io;
}

ModelIo match_model_ragged(const Graph& graph, const std::string& model_file, const InputDescription& input,
                           const std::string& offsets_dataset, std::shared_ptr<const RaggedIndex> ragged,
                           const std::string& mask, const std::vector<OutputBinding>& bindings) {
  ModelIo io;
  const size_t n_in = graph.inputs.size();
  io.mask_input = -1;
  if (!mask.empty()) {
    for (size_t k = 0; k < n_in; ++k)
      if (graph.input_name(k) == mask) io.mask_input = static_cast<int>(k);
    if (io.mask_input < 0)
      throw ConfigError("input.mask: model '" + model_file + "' has no input named '" + mask + "'");
  }
  if (n_in != (io.mask_input >= 0 ? 2u : 1u))
    throw ModelError("model '" + model_file + "' has " + std::to_string(n_in) + " runtime inputs; ragged input " +
                     "feeds the values" + (io.mask_input >= 0 ? " and the mask (input.mask)" :
                     " (name the mask input with input.mask if the model takes one)"));
  io.data_input = io.mask_input == 0 ? 1 : 0;
  const Shape& want = graph.input_shapes[static_cast<size_t>(io.data_input)];
  io.token_shape = row_shape(input.shape);
  bool fits = want.size() == input.shape.size() + 1 && want[1] < 0;
  for (size_t k = 0; fits && k < io.token_shape.size(); ++k)
    fits = io.token_shape[k] > 0 && (want[k + 2] < 0 || want[k + 2] == io.token_shape[k]);
  if (!fits)
    throw DataError("ragged input: values dataset '" + input.dataset + "' in '" + input.file + "' has shape " +
                    shape_str(input.shape) + " (" + input.dtype + ", rows split by '" + offsets_dataset +
                    "') but model '" + model_file + "' input '" + graph.input_name(io.data_input) + "' expects " +
                    batch_shape_str(want) + "; expected [batch, seq, ...] with a dynamic seq dim matching the values' " +
                    "row shape");
  if (io.mask_input >= 0) {
    const Shape& m = graph.input_shapes[static_cast<size_t>(io.mask_input)];
    if (m.size() != 2 || m[1] >= 0)
      throw ModelError("model '" + model_file + "' mask input '" + mask + "' has shape " + batch_shape_str(m) +
                       "; expected [batch, seq] with a dynamic seq");
  }
  const int64_t len = std::max<int64_t>(1, ragged->max_length);
  auto at = [&](int64_t batch, int64_t seq) {
    std::vector<Shape> in(n_in);
    in[static_cast<size_t>(io.data_input)] = Shape{batch, seq};
    for (int64_t d : io.token_shape) in[static_cast<size_t>(io.data_input)].push_back(d);
    if (io.mask_input >= 0) in[static_cast<size_t>(io.mask_input)] = Shape{batch, seq};
    return in;
  };
  const auto s1 = graph.infer_shapes(at(1, len)), s2 = graph.infer_shapes(at(2, len)),
             sv = graph.infer_shapes(at(1, len + 1));
  io.input_rows.resize(n_in);
  for (size_t k = 0; k < n_in; ++k) io.input_rows[k] = row_shape(at(1, len)[k]);
  io.input_row_elements = shape_numel(io.input_rows[static_cast<size_t>(io.data_input)]);
  io.input_row_bytes = io.input_row_elements *
                       static_cast<int64_t>(dtype_size(graph.input_type(static_cast<size_t>(io.data_input))));
  bind_outputs(io, graph, model_file, bindings, s1, s2, &sv);
  io.ragged = std::move(ragged);
  return io;
}

}  // namespace mgi
