// Matches a loaded model to the input datasets and the output bindings of the
// config, before any work: which dataset (or generated mask / constant) feeds
// each model input, shapes, per-row sizes, a batch the model fixes, which graph
// output goes to which dataset. Every mismatch is one line naming the
// file/dataset/key.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "graph.hpp"
#include "output_writer.hpp"
#include "ragged.hpp"

namespace mgi {

struct InputDescription {
  std::string file, dataset, dtype;  // dtype: the file's ("uint8", "vlen int32"); rows are read as the model input's type
  Shape shape;  // [N, ...] ([N] for a variable-length dataset)
  std::string onnx_input;  // the model input it feeds; "" = the model's only dataset-fed input
  bool vlen = false;       // HDF5 variable-length rows (ragged, one sequence per row)
};

// How the model inputs that no dataset holds are made, and how ragged rows are padded.
struct InputOptions {
  std::string offsets;                              // ragged values + offsets: inputs[0] holds the values
  std::shared_ptr<const RaggedIndex> ragged;        // the row index (offsets, or a vlen dataset's lengths)
  std::string mask;                                 // model input fed the padding mask (ragged only)
  std::vector<std::pair<std::string, double>> fill; // model inputs filled with a constant
  double pad_value = 0;                             // ragged: value at padded positions of the data input
  bool padding_harmless = false;                    // ragged, no mask: pad anyway
};

// Where one model input's batch comes from.
struct InputFeed {
  enum Kind { dataset, mask, fill } kind = dataset;
  int source = -1;          // dataset: index into the InputDescriptions (and the job's readers)
  std::vector<char> value;  // fill: one element of the input's type
};

struct ModelIo {
  std::vector<Shape> input_rows;            // per graph input, per-row shape
  std::vector<InputFeed> feeds;             // per graph input
  std::vector<OutputDatasetSpec> outputs;   // per written dataset (dtype: the graph output's)
  std::vector<int> graph_output;            // graph output index of each written dataset
  int64_t input_row_elements = 0;           // the data input's
  int64_t input_row_bytes = 0;              // input_row_elements in the data input's model type
  int64_t all_input_row_bytes = 0;          // every graph input, one row, in its type (memory estimates)
  int64_t output_row_bytes = 0;             // all written outputs, one row, in their types
  // > 0: the model's inputs fix the batch at this many rows ([1, 3, 224, 224]):
  // every batch has exactly this size, a short last one padded with copies of
  // its last row whose outputs are dropped, so each row computes as alone.
  int64_t fixed_batch = 0;

  // Ragged input (offsets or a vlen dataset): `data_input` gets the values
  // padded to [batch, seq, ...token_shape], `mask_input` (-1: none) the mask
  // [batch, seq], fill inputs their constant shaped like the padded data input.
  // input_rows hold the longest row's shapes (buffer sizes); input_row_elements
  // is the data input's per-row size at that length. Each input is fed in its
  // own model type (graph.input_type): the values converted on reading, the
  // mask written as 1/0 of the mask input's type.
  std::shared_ptr<const RaggedIndex> ragged;
  bool vlen = false;          // the ragged rows come from a variable-length dataset
  int data_input = 0, mask_input = -1;
  Shape token_shape;
  std::vector<char> pad;      // one element of the data input's type: input.pad_value
  bool equal_length = false;  // ragged, no mask, padding not declared harmless: batches of equal-length rows
};

// The general form: one description per dataset of input.dataset.
ModelIo match_inputs(const Graph& graph, const std::string& model_file, const std::vector<InputDescription>& inputs,
                     const InputOptions& options, const std::vector<OutputBinding>& bindings);

// One fixed-shape dataset for the model's one input.
ModelIo match_model(const Graph& graph, const std::string& model_file, const InputDescription& input,
                    const std::vector<OutputBinding>& bindings);

// Bytes of every computed value, in its type (graph inputs included, constants not)
// for batches of `input_rows` rows: per_row grows with each row, fixed does
// not. An upper bound on a backend's activation memory (backends reuse
// buffers whose lifetimes do not overlap). From shape inference at 1 and 2 rows
// (at the model's fixed batch, when it has one: then all of it is per row).
struct ActivationSize {
  int64_t per_row = 0, fixed = 0;
};
ActivationSize activation_size(const Graph& graph, const std::vector<Shape>& input_rows);

// Ragged values + offsets for the model's data input (and the mask input named by
// `mask`, if any). Outputs must be fixed-shape per row: their shape may not
// depend on seq (pool over it).
ModelIo match_model_ragged(const Graph& graph, const std::string& model_file, const InputDescription& input,
                           const std::string& offsets_dataset, std::shared_ptr<const RaggedIndex> ragged,
                           const std::string& mask, const std::vector<OutputBinding>& bindings);

// One line per model input for the plan: what feeds it, its shape, the file's
// type and the model's ("input_ids <- /ids [100, 16] int32 -> int64").
std::vector<std::string> describe_inputs(const Graph& graph, const ModelIo& io,
                                         const std::vector<InputDescription>& inputs);
// The plan's line on padding ragged rows ("" for fixed-shape input).
std::string describe_padding(const Graph& graph, const ModelIo& io);

}  // namespace mgi
