// Run configuration: YAML file (yaml-cpp) + `--set key=value` overrides +
// ${VAR} expansion. Every mistake is a ConfigError (exit 2) naming the file,
// the line and the key.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mgi {

struct InputBinding {
  std::string onnx_input;  // empty: "the model's only dataset-fed input"
  std::string dataset;     // HDF5 path, e.g. /x
};

struct OutputBinding {
  std::string onnx_output;  // empty: "the model's only output"
  std::string dataset;      // HDF5 path, e.g. /y
};

struct Config {
  std::string source;         // path of the config file (for messages)
  std::string resolved_text;  // YAML after overrides and ${VAR} expansion (stored in the output);
                              // '$' is written "$$", so parse_config(resolved_text) gives this Config

  struct Input {
    std::string file;
    std::string dataset;                 // [N, ...], any numeric dtype (the first of `datasets`)
    std::vector<InputBinding> datasets;  // `dataset: /x` (one, onnx_input empty) or a map
                                         // {onnx_input_name: /dataset}, all with the same N rows
    std::string cost;                    // optional [N] per-row cost dataset in the same file
    std::string offsets;                 // optional [N+1] int offsets: `dataset` is then the ragged
                                         // values [total, ...]; row i = values[offsets[i]:offsets[i+1]]
    std::string mask;                    // optional model input fed the padding mask [batch, seq]
    double pad_value = 0;                // ragged: value of the padded positions of the token input
                                         // (converted to that input's type; integral for integer inputs)
    std::vector<std::pair<std::string, double>> fill;  // model inputs filled with a constant, shaped
                                         // like the (padded) data input, e.g. {token_type_ids: 0}
    bool padding_harmless = false;       // ragged without a mask: pad anyway (the model ignores
                                         // padding); default false: batch only rows of equal length
  } input;

  struct Output {
    std::string file;
    std::vector<OutputBinding> datasets;  // `dataset: /y` or a map {onnx_output_name: /dataset}
    std::string compression = "none";      // none | gzip
    int compression_level = 4;             // 1..9 for gzip
    int64_t chunk_rows = 0;                // 0 = auto (about 1 MiB per chunk)
    bool ragged = false;                   // per-token outputs written back as values + offsets
    std::string status = "/status";        // per-row status dataset (uint8: 1 = non-finite output)
    std::string on_nonfinite = "flag";     // flag | fail
    std::string writer = "gather";         // gather (rank 0 writes every row) | parallel (each rank its own, MPI-IO)
  } output;

  struct Model {
    std::string file;
  } model;

  struct Runtime {
    std::string device = "auto";         // auto | cuda | cpu
    int64_t batch_size = 1024;           // > 0
    bool batch_size_auto = false;        // `batch_size: auto`
    std::vector<int> gpu_ids;            // optional: node-local device ids to use, by local rank
    bool allow_gpu_sharing = false;      // more ranks than GPUs on a node
    int threads = 0;                     // CPU backend threads per rank; 0 = cores / local ranks
    std::string precision = "fp32";      // fp32 | tf32 | bf16 | fp16: CUDA GEMMs (the CPU backend is fp32)
    bool cuda_graphs = false;            // CUDA: replay full batches as captured CUDA graphs
    int64_t gather_window_bytes = 256ll << 20;  // rank 0 holds at most this many result bytes
    // Pipeline stages (docs/PIPELINE.md): the model cut into this many stages,
    // one per rank of a group of consecutive ranks; `auto` = the fewest that fit.
    int pipeline_stages = 1;             // >= 1
    bool pipeline_stages_auto = false;   // `pipeline_stages: auto`
    int64_t memory_limit = 0;            // bytes a rank's backend may use (0 = no limit beyond free memory)
  } runtime;

  struct Checkpoint {
    double flush_seconds = 10;   // journal fsync interval
    double grace_seconds = 30;   // after SIGTERM/SIGUSR1: hard exit 75 if not done by then
  } checkpoint;

  struct Dynamic {
    int64_t chunk_rows = 0;      // > 0: fixed task size in rows; 0 = factoring schedule
    int64_t min_chunk_rows = 1;  // smallest task of the factoring schedule
  } dynamic;

  std::string mode = "static";  // static | dynamic
};

// Parses `text` (the content of `path`), applies overrides ("a.b=value", YAML
// value syntax), expands ${VAR} in strings, validates keys, types and ranges.
Config parse_config(const std::string& text, const std::string& path,
                    const std::vector<std::string>& overrides);

// Reads the file, then parse_config. Missing/unreadable file: ConfigError.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace mgi
