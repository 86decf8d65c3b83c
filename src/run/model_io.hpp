// Matches a loaded model to the input dataset and the output bindings of the
// config, before any work: shapes, per-row sizes, which graph output goes to
// which dataset. Every mismatch is one line naming the file/dataset/key.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "graph.hpp"
#include "output_writer.hpp"
#include "ragged.hpp"

namespace mgi {

struct InputDescription {
  std::string file, dataset, dtype;  // dtype: the file's ("uint8"); rows are read as the model input's type
  Shape shape;  // [N, ...]
};

struct ModelIo {
  std::vector<Shape> input_rows;            // per graph input, per-row shape
  std::vector<OutputDatasetSpec> outputs;   // per written dataset (dtype: the graph output's)
  std::vector<int> graph_output;            // graph output index of each written dataset
  int64_t input_row_elements = 0;
  int64_t input_row_bytes = 0;              // input_row_elements in the (data) input's model type
  int64_t output_row_bytes = 0;             // all written outputs, one row, in their types

  // Ragged input (input.offsets): `data_input` gets the values padded to
  // [batch, seq, ...token_shape], `mask_input` (-1: none) the mask [batch, seq].
  // input_rows hold the longest row's shapes (buffer sizes); input_row_elements
  // is the data input's per-row size at that length. Each input is fed in its
  // own model type (graph.input_type): the values converted on reading, the
  // mask written as 1/0 of the mask input's type.
  std::shared_ptr<const RaggedIndex> ragged;
  int data_input = 0, mask_input = -1;
  Shape token_shape;
};

ModelIo match_model(const Graph& graph, const std::string& model_file, const InputDescription& input,
                    const std::vector<OutputBinding>& bindings);

// Bytes of every computed value, in its type (graph inputs included, constants not)
// for batches of `input_rows` rows: per_row grows with each row, fixed does
// not. An upper bound on a backend's activation memory (backends reuse
// buffers whose lifetimes do not overlap). From shape inference at 1 and 2 rows.
struct ActivationSize {
  int64_t per_row = 0, fixed = 0;
};
ActivationSize activation_size(const Graph& graph, const std::vector<Shape>& input_rows);

// Ragged variant: `input` describes the values dataset [total, ...]; the model
// takes [batch, seq, ...] with a dynamic seq (plus the mask input named by
// `mask`, if any). Outputs must be fixed-shape per row: their shape may not
// depend on seq (pool over it).
ModelIo match_model_ragged(const Graph& graph, const std::string& model_file, const InputDescription& input,
                           const std::string& offsets_dataset, std::shared_ptr<const RaggedIndex> ragged,
                           const std::string& mask, const std::vector<OutputBinding>& bindings);

}  // namespace mgi
