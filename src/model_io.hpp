// Matches a loaded model to the input dataset and the output bindings of the
// config, before any work: shapes, per-row sizes, which graph output goes to
// which dataset. Every mismatch is one line naming the file/dataset/key.
#pragma once
#include <string>
#include <vector>

#include "config.hpp"
#include "graph.hpp"
#include "output_writer.hpp"

namespace mgi {

struct InputDescription {
  std::string file, dataset, dtype;
  Shape shape;  // [N, ...]
};

struct ModelIo {
  std::vector<Shape> input_rows;            // per graph input, per-row shape
  std::vector<OutputDatasetSpec> outputs;   // per written dataset
  std::vector<int> graph_output;            // graph output index of each written dataset
  int64_t input_row_elements = 0;
  int64_t output_row_bytes = 0;             // all written outputs, one row
};

ModelIo match_model(const Graph& graph, const std::string& model_file, const InputDescription& input,
                    const std::vector<OutputBinding>& bindings);

}  // namespace mgi
