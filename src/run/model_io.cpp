// Binding a model to its data before any work: each model input to a dataset,
// a mask or a fill; each output to a dataset; shapes, types and row counts
// checked with one clear line each. Over 400 lines as one file: fixed-shape,
// ragged and multi-input bindings share the checks and the plan text.
#include "model_io.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "error.hpp"

namespace mgi {

namespace {

std::string output_names(const Graph& g) {
  std::string r;
  for (size_t k = 0; k < g.outputs.size(); ++k) r += (k ? ", " : "") + g.output_name(k);
  return r;
}

std::string input_names(const Graph& g) {
  std::string r;
  for (size_t k = 0; k < g.inputs.size(); ++k) r += (k ? ", " : "") + g.input_name(k);
  return r;
}

int find_input(const Graph& g, const std::string& name) {
  for (size_t k = 0; k < g.inputs.size(); ++k)
    if (g.input_name(k) == name) return static_cast<int>(k);
  return -1;
}

std::string number_str(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// One element of `t` holding `v`; integer and bool types need an exact value in range.
std::vector<char> constant_bytes(double v, DType t, const std::string& key, const std::string& input) {
  std::vector<char> out(dtype_size(t));
  if (is_float(t)) {
    const float f = static_cast<float>(v);
    if (!std::isfinite(f) && std::isfinite(v))
      throw ConfigError(key + ": " + number_str(v) + " does not fit model input '" + input + "' (" + dtype_name(t) + ")");
    convert_elements(DType::f32, &f, t, out.data(), 1);
    return out;
  }
  double lo = -9.2233720368547758e18, hi = 9.2233720368547748e18;
  switch (t) {
    case DType::i32: lo = -2147483648.0, hi = 2147483647.0; break;
    case DType::i8: lo = -128, hi = 127; break;
    case DType::u8: lo = 0, hi = 255; break;
    case DType::b8: lo = 0, hi = 1; break;
    default: break;
  }
  if (v != std::floor(v) || v < lo || v > hi)
    throw ConfigError(key + ": " + number_str(v) + " is not a valid " + dtype_name(t) + " value for model input '" +
                      input + "'" + (t == DType::b8 ? " (0 or 1)" : " (an integer in range)"));
  const int64_t i = static_cast<int64_t>(v);
  convert_elements(DType::i64, &i, t, out.data(), 1);
  return out;
}

bool shape_fits(const Shape& want, const Shape& got) {  // declared [batch, ...] vs concrete [N, ...]
  if (want.size() != got.size()) return false;
  for (size_t k = 1; k < want.size(); ++k)
    if (got[k] <= 0 || (want[k] >= 0 && want[k] != got[k])) return false;
  return true;
}

// Binds graph outputs to written datasets. s1, s2: value shapes at batches r1
// and r2 (1 and 2, or the fixed batch twice); sv (optional): at batch r1 with a
// longer sequence, to reject seq-shaped outputs.
void bind_outputs(ModelIo& io, const Graph& graph, const std::string& model_file,
                  const std::vector<OutputBinding>& bindings, const std::vector<Shape>& s1,
                  const std::vector<Shape>& s2, const std::vector<Shape>* sv, int64_t r1, int64_t r2) {
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
    if (a.empty() || b.empty() || a[0] != r1 || b[0] != r2 || row_shape(a) != row_shape(b))
      throw ModelError("model '" + model_file + "' output '" + graph.output_name(k) + "' has shape " +
                       shape_str(b) + " for a batch of " + std::to_string(r2) +
                       " rows; expected the batch as its first dimension");
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

// The model input a dataset feeds: by name, or the one input nothing else feeds.
int input_of(const Graph& graph, const std::string& model_file, const InputDescription& d,
             const std::set<int>& generated, const std::string& ragged_hint) {
  if (!d.onnx_input.empty()) {
    const int k = find_input(graph, d.onnx_input);
    if (k < 0)
      throw ConfigError("input.dataset." + d.onnx_input + ": model '" + model_file + "' has no input named '" +
                        d.onnx_input + "' (inputs: " + input_names(graph) + ")");
    return k;
  }
  std::vector<int> open;
  for (size_t k = 0; k < graph.inputs.size(); ++k)
    if (!generated.count(static_cast<int>(k))) open.push_back(static_cast<int>(k));
  if (open.size() != 1) {
    std::string example;
    for (size_t k = 0; k < graph.inputs.size(); ++k)
      example += (k ? ", " : "") + graph.input_name(k) + ": /" + graph.input_name(k);
    throw ModelError("model '" + model_file + "' has " + std::to_string(graph.inputs.size()) + " runtime inputs (" +
                     input_names(graph) + ") and input.dataset feeds one; map each to a dataset (input.dataset: {" +
                     example + "}) or fill it (input.fill)" + ragged_hint);
  }
  return open[0];
}

// The mask and fill inputs, checked against the model; `io.feeds` gets them.
std::set<int> generated_inputs(ModelIo& io, const Graph& graph, const std::string& model_file,
                               const InputOptions& opt) {
  std::set<int> generated;
  if (!opt.mask.empty()) {
    io.mask_input = find_input(graph, opt.mask);
    if (io.mask_input < 0)
      throw ConfigError("input.mask: model '" + model_file + "' has no input named '" + opt.mask + "'");
    io.feeds[static_cast<size_t>(io.mask_input)].kind = InputFeed::mask;
    generated.insert(io.mask_input);
  }
  for (const auto& [name, value] : opt.fill) {
    const int k = find_input(graph, name);
    if (k < 0)
      throw ConfigError("input.fill." + name + ": model '" + model_file + "' has no input named '" + name +
                        "' (inputs: " + input_names(graph) + ")");
    InputFeed& f = io.feeds[static_cast<size_t>(k)];
    f.kind = InputFeed::fill;
    f.value = constant_bytes(value, graph.input_type(static_cast<size_t>(k)), "input.fill." + name, name);
    generated.insert(k);
  }
  return generated;
}

// Every model input has a feed; a second dataset for one input is refused.
void check_all_fed(const Graph& graph, const std::string& model_file, const std::vector<int>& fed_by_dataset,
                   const std::set<int>& generated) {
  std::vector<int> count(graph.inputs.size(), 0);
  for (int k : fed_by_dataset) ++count[static_cast<size_t>(k)];
  for (int k : generated) ++count[static_cast<size_t>(k)];
  for (size_t k = 0; k < graph.inputs.size(); ++k) {
    if (count[k] > 1)
      throw ConfigError("input.dataset: model '" + model_file + "' input '" + graph.input_name(k) +
                        "' is fed twice (a dataset and input.mask or input.fill)");
    if (count[k] == 0)
      throw ConfigError("input.dataset: model '" + model_file + "' input '" + graph.input_name(k) +
                        "' is fed by nothing; map it to a dataset (input.dataset: {" + graph.input_name(k) + ": /" +
                        graph.input_name(k) + ", ...}) or fill it with a constant (input.fill: {" +
                        graph.input_name(k) + ": 0})");
  }
}

void sum_input_bytes(ModelIo& io, const Graph& graph) {
  io.all_input_row_bytes = 0;
  for (size_t k = 0; k < graph.inputs.size(); ++k)
    io.all_input_row_bytes += shape_numel(io.input_rows[k]) * static_cast<int64_t>(dtype_size(graph.input_type(k)));
}

ModelIo match_fixed(const Graph& graph, const std::string& model_file, const std::vector<InputDescription>& inputs,
                    const InputOptions& opt, const std::vector<OutputBinding>& bindings) {
  ModelIo io;
  io.feeds.resize(graph.inputs.size());
  if (!opt.mask.empty())
    throw ConfigError("input.mask: only used with ragged input (input.offsets or a variable-length dataset)");
  const std::set<int> generated = generated_inputs(io, graph, model_file, opt);
  std::vector<int> fed;
  for (size_t d = 0; d < inputs.size(); ++d) {
    const int k = input_of(graph, model_file, inputs[d], generated, " (set input.offsets for ragged rows)");
    fed.push_back(k);
    io.feeds[static_cast<size_t>(k)].kind = InputFeed::dataset;
    io.feeds[static_cast<size_t>(k)].source = static_cast<int>(d);
  }
  check_all_fed(graph, model_file, fed, generated);
  // Every dataset has the same rows.
  for (size_t d = 1; d < inputs.size(); ++d)
    if (inputs[d].shape[0] != inputs[0].shape[0]) {
      std::string all;
      for (size_t j = 0; j < inputs.size(); ++j)
        all += (j ? ", " : "") + inputs[j].onnx_input + " <- " + inputs[j].dataset + " " +
               std::to_string(inputs[j].shape[0]) + " rows";
      throw DataError("input datasets in '" + inputs[0].file + "' have different row counts (" + all +
                      "); every input dataset needs one row per input row");
    }
  io.fixed_batch = model_fixed_batch(graph);
  io.input_rows.resize(graph.inputs.size());
  io.data_input = fed[0];
  for (size_t d = 0; d < inputs.size(); ++d) {
    const InputDescription& in = inputs[d];
    const size_t k = static_cast<size_t>(fed[d]);
    const Shape& want = graph.input_shapes[k];
    if (!shape_fits(want, in.shape))
      throw DataError("input dataset '" + in.dataset + "' in '" + in.file + "' has shape " + shape_str(in.shape) +
                      " (" + in.dtype + ") but model '" + model_file + "' input '" + graph.input_name(k) +
                      "' expects " + batch_shape_str(want));
    io.input_rows[k] = row_shape(in.shape);
  }
  // Fill inputs are shaped like the first dataset's rows.
  const Shape like = io.input_rows[static_cast<size_t>(io.data_input)];
  for (int k : generated) {
    Shape s = like;
    s.insert(s.begin(), 1);
    const Shape& want = graph.input_shapes[static_cast<size_t>(k)];
    if (!shape_fits(want, s))
      throw ModelError("model '" + model_file + "' input '" + graph.input_name(static_cast<size_t>(k)) +
                       "' (input.fill) expects " + batch_shape_str(want) + "; a filled input is shaped like input '" +
                       graph.input_name(static_cast<size_t>(io.data_input)) + "' rows, " + shape_str(like));
    io.input_rows[static_cast<size_t>(k)] = like;
  }
  io.input_row_elements = shape_numel(io.input_rows[static_cast<size_t>(io.data_input)]);
  io.input_row_bytes =
      io.input_row_elements * static_cast<int64_t>(dtype_size(graph.input_type(static_cast<size_t>(io.data_input))));
  sum_input_bytes(io, graph);

  // Shape inference at two batch sizes proves the batch is the outputs' first
  // dim; a fixed-batch model is checked at its batch.
  auto at = [&](int64_t b) {
    std::vector<Shape> s = io.input_rows;
    for (Shape& one : s) one.insert(one.begin(), b);
    return graph.infer_shapes(s);
  };
  if (io.fixed_batch > 0) {
    const auto sb = at(io.fixed_batch);
    bind_outputs(io, graph, model_file, bindings, sb, sb, nullptr, io.fixed_batch, io.fixed_batch);
  } else {
    const auto s1 = at(1), s2 = at(2);
    bind_outputs(io, graph, model_file, bindings, s1, s2, nullptr, 1, 2);
  }
  return io;
}

ModelIo match_ragged(const Graph& graph, const std::string& model_file, const std::vector<InputDescription>& inputs,
                     const InputOptions& opt, const std::vector<OutputBinding>& bindings) {
  ModelIo io;
  io.feeds.resize(graph.inputs.size());
  const InputDescription& input = inputs[0];
  const std::string source = opt.offsets.empty() ? "variable-length dataset '" + input.dataset + "'"
                                                 : "input.offsets";
  if (inputs.size() != 1)
    throw ConfigError("input.dataset: ragged rows (" + source + ") feed one model input; input.dataset names " +
                      std::to_string(inputs.size()) + " datasets (the mask and constant inputs come from "
                      "input.mask and input.fill)");
  const std::set<int> generated = generated_inputs(io, graph, model_file, opt);
  io.data_input = input_of(graph, model_file, input, generated,
                           io.mask_input < 0 ? " (name the mask input with input.mask if the model takes one)" : "");
  io.feeds[static_cast<size_t>(io.data_input)].source = 0;
  check_all_fed(graph, model_file, {io.data_input}, generated);
  io.fixed_batch = model_fixed_batch(graph);
  if (io.fixed_batch > 1)
    throw ModelError("model '" + model_file + "' fixes the batch at " + std::to_string(io.fixed_batch) +
                     " rows; ragged rows run with a dynamic batch or a fixed batch of 1");
  const Shape& want = graph.input_shapes[static_cast<size_t>(io.data_input)];
  io.token_shape = input.vlen ? Shape{} : row_shape(input.shape);
  bool fits = want.size() == io.token_shape.size() + 2 && want[1] < 0;
  for (size_t k = 0; fits && k < io.token_shape.size(); ++k)
    fits = io.token_shape[k] > 0 && (want[k + 2] < 0 || want[k + 2] == io.token_shape[k]);
  if (!fits) {
    if (input.vlen)
      throw DataError("ragged input: variable-length dataset '" + input.dataset + "' in '" + input.file + "' (" +
                      input.dtype + ") holds one value per position but model '" + model_file + "' input '" +
                      graph.input_name(io.data_input) + "' expects " + batch_shape_str(want) +
                      "; expected [batch, seq] with a dynamic seq");
    throw DataError("ragged input: values dataset '" + input.dataset + "' in '" + input.file + "' has shape " +
                    shape_str(input.shape) + " (" + input.dtype + ", rows split by '" + opt.offsets +
                    "') but model '" + model_file + "' input '" + graph.input_name(io.data_input) + "' expects " +
                    batch_shape_str(want) + "; expected [batch, seq, ...] with a dynamic seq dim matching the values' " +
                    "row shape");
  }
  if (io.mask_input >= 0) {
    const Shape& m = graph.input_shapes[static_cast<size_t>(io.mask_input)];
    if (m.size() != 2 || m[1] >= 0)
      throw ModelError("model '" + model_file + "' mask input '" + opt.mask + "' has shape " + batch_shape_str(m) +
                       "; expected [batch, seq] with a dynamic seq");
  }
  for (int k : generated) {
    if (k == io.mask_input) continue;
    const Shape& f = graph.input_shapes[static_cast<size_t>(k)];
    bool ok = f.size() == want.size() && f[1] < 0;
    for (size_t d = 2; ok && d < f.size(); ++d) ok = f[d] < 0 || f[d] == io.token_shape[d - 2];
    if (!ok)
      throw ModelError("model '" + model_file + "' input '" + graph.input_name(static_cast<size_t>(k)) +
                       "' (input.fill) has shape " + batch_shape_str(f) + "; a filled input is shaped like the padded " +
                       "input '" + graph.input_name(io.data_input) + "', " + batch_shape_str(want));
  }
  io.pad = constant_bytes(opt.pad_value, graph.input_type(static_cast<size_t>(io.data_input)), "input.pad_value",
                          graph.input_name(static_cast<size_t>(io.data_input)));
  io.equal_length = io.mask_input < 0 && !opt.padding_harmless;
  io.vlen = input.vlen;
  const size_t n_in = graph.inputs.size();
  const int64_t len = std::max<int64_t>(1, opt.ragged->max_length);
  auto at = [&](int64_t batch, int64_t seq) {
    std::vector<Shape> in(n_in);
    Shape padded{batch, seq};
    for (int64_t d : io.token_shape) padded.push_back(d);
    for (size_t k = 0; k < n_in; ++k) in[k] = padded;
    if (io.mask_input >= 0) in[static_cast<size_t>(io.mask_input)] = Shape{batch, seq};
    return in;
  };
  io.input_rows.resize(n_in);
  for (size_t k = 0; k < n_in; ++k) io.input_rows[k] = row_shape(at(1, len)[k]);
  io.input_row_elements = shape_numel(io.input_rows[static_cast<size_t>(io.data_input)]);
  io.input_row_bytes = io.input_row_elements *
                       static_cast<int64_t>(dtype_size(graph.input_type(static_cast<size_t>(io.data_input))));
  sum_input_bytes(io, graph);
  // The second sequence length, to see that outputs do not keep the seq dim: a
  // shorter one where there is one, since a model's position table may end at
  // exactly the longest row (a BERT's 512).
  const int64_t other = len > 1 ? len - 1 : len + 1;
  const auto s1 = graph.infer_shapes(at(1, len)), sv = graph.infer_shapes(at(1, other));
  if (io.fixed_batch == 1) {
    bind_outputs(io, graph, model_file, bindings, s1, s1, &sv, 1, 1);
  } else {
    const auto s2 = graph.infer_shapes(at(2, len));
    bind_outputs(io, graph, model_file, bindings, s1, s2, &sv, 1, 2);
  }
  io.ragged = opt.ragged;
  return io;
}

}  // namespace

ActivationSize activation_size(const Graph& graph, const std::vector<Shape>& input_rows) {
  const int64_t fixed = model_fixed_batch(graph);
  auto at = [&](int64_t b) {
    std::vector<Shape> in = input_rows;
    for (Shape& s : in) s.insert(s.begin(), b);
    return graph.infer_shapes(in);
  };
  ActivationSize a;
  if (fixed > 0) {  // one batch size only: everything counts per row
    const std::vector<Shape> sb = at(fixed);
    for (size_t v = 0; v < graph.values.size() && v < sb.size(); ++v)
      if (!graph.values[v].is_constant)
        a.per_row += (shape_numel(sb[v]) + fixed - 1) / fixed * static_cast<int64_t>(dtype_size(graph.values[v].dtype));
    return a;
  }
  const std::vector<Shape> s1 = at(1), s2 = at(2);
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

ModelIo match_inputs(const Graph& graph, const std::string& model_file, const std::vector<InputDescription>& inputs,
                     const InputOptions& options, const std::vector<OutputBinding>& bindings) {
  if (inputs.empty()) throw ConfigError("input.dataset: no input dataset");
  if (options.ragged) return match_ragged(graph, model_file, inputs, options, bindings);
  for (const auto& in : inputs)
    if (in.vlen)
      throw ConfigError("input.dataset: '" + in.dataset + "' is a variable-length dataset; it can only be the one "
                        "ragged input (with input.mask and input.fill for the other model inputs)");
  return match_fixed(graph, model_file, inputs, options, bindings);
}

ModelIo match_model(const Graph& graph, const std::string& model_file, const InputDescription& input,
                    const std::vector<OutputBinding>& bindings) {
  return match_inputs(graph, model_file, {input}, InputOptions{}, bindings);
}

ModelIo match_model_ragged(const Graph& graph, const std::string& model_file, const InputDescription& input,
                           const std::string& offsets_dataset, std::shared_ptr<const RaggedIndex> ragged,
                           const std::string& mask, const std::vector<OutputBinding>& bindings) {
  InputOptions opt;
  opt.offsets = offsets_dataset;
  opt.ragged = std::move(ragged);
  opt.mask = mask;
  opt.padding_harmless = true;  // the callers of this form decide padding themselves
  return match_inputs(graph, model_file, {input}, opt, bindings);
}

std::vector<std::string> describe_inputs(const Graph& graph, const ModelIo& io,
                                         const std::vector<InputDescription>& inputs) {
  std::vector<std::string> lines;
  size_t width = 0;
  for (size_t k = 0; k < graph.inputs.size(); ++k) width = std::max(width, graph.input_name(k).size());
  for (size_t k = 0; k < graph.inputs.size(); ++k) {
    const InputFeed& f = io.feeds[k];
    const std::string model_type = dtype_name(graph.input_type(k));
    std::string name = graph.input_name(k);
    name.resize(width, ' ');
    std::string s = name + " <- ";
    if (f.kind == InputFeed::dataset) {
      const InputDescription& in = inputs[static_cast<size_t>(f.source)];
      s += in.dataset + " ";
      if (io.ragged) {
        Shape rows{io.ragged->rows(), io.ragged->max_length};
        for (int64_t d : io.token_shape) rows.push_back(d);
        s += "ragged " + shape_str(rows) + " (seq <= " + std::to_string(io.ragged->max_length) + "), " +
             (in.vlen ? in.dtype : in.dtype + " values " + shape_str(in.shape)) + " -> " + model_type;
      } else {
        s += shape_str(in.shape) + " " + in.dtype + (in.dtype == model_type ? "" : " -> " + model_type);
      }
    } else if (f.kind == InputFeed::mask) {
      s += "mask built per batch, [batch, seq] " + model_type + " (1 = real position, 0 = padding)";
    } else {
      const double v = element_as_double(graph.input_type(k), f.value.data(), 0);
      std::string shape = io.ragged ? "[batch, seq" : "[batch";
      const Shape& row = io.ragged ? io.token_shape : io.input_rows[k];
      for (int64_t d : row) shape += ", " + std::to_string(d);
      s += "filled with " + number_str(v) + ", " + shape + "] " + model_type;
    }
    lines.push_back(s);
  }
  return lines;
}

std::string describe_padding(const Graph& graph, const ModelIo& io) {
  if (!io.ragged) return "";
  const double pad = element_as_double(graph.input_type(static_cast<size_t>(io.data_input)), io.pad.data(), 0);
  const std::string data = "'" + graph.input_name(static_cast<size_t>(io.data_input)) + "'";
  if (io.mask_input >= 0)
    return "each batch padded to its longest row with " + number_str(pad) + " in " + data + "; mask '" +
           graph.input_name(static_cast<size_t>(io.mask_input)) + "' marks the real positions";
  if (io.equal_length)
    return "none: the model takes no mask, so batches hold rows of equal length only (rows are never padded; "
           "input.padding_harmless: true pads instead)";
  return "each batch padded to its longest row with " + number_str(pad) + " in " + data +
         " (no mask; input.padding_harmless: true says the model ignores padding)";
}

}  // namespace mgi
