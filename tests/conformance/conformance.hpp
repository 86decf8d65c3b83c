// The ONNX conformance runner (mgi_conformance, docs/CONFORMANCE.md): the node
// tests of ONNX's backend suite (Debian's libonnx-testdata: test_*/model.onnx
// with test_data_set_*/input_*.pb and output_*.pb) run through the op registry
// and a backend, compared with the suite's expected outputs.
//
// Files: run_case.cpp (one case, start to end), case_data.cpp (a case's ONNX
// side: scope, data sets, the input wrapper, constant inputs), host_graph.cpp
// (the two ways a case runs), compare.cpp (the suite's tolerances),
// run_conformance.cpp (the command line, one child process per case, the
// summary, the expected-pass list).
#pragma once
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "backend.hpp"
#include "graph.hpp"
#include "tensor.hpp"

namespace mgi::conformance {

// ONNX's backend test compares with numpy's assert_allclose at these
// tolerances unless a test says otherwise; integers and bools exactly.
constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;

// What became of a case.
enum class Status : char { pass = 'P', fail = 'F', skip = 'S' };

struct Outcome {
  Status status = Status::fail;
  // FAIL: "wrong values", "refused" (a ModelError: the loader or an op's
  // inference said no), "error" (another exception), "crash"; SKIP: why, in a word or two.
  std::string kind;
  std::string path;    // PASS: how it ran ("graph+backend", "graph", "backend")
  std::string detail;  // FAIL/SKIP: what happened; PASS: notes (--verbose)
};

inline Outcome fail(const std::string& kind, const std::string& d) { return {Status::fail, kind, "", d}; }

// One case folder, start to end (run_case.cpp): scope, data, the graph path
// (backend "cpu"), the backend path ("cpu" where the case fits the batch
// contract, "cuda" only there). Never throws: errors are the case's FAIL.
Outcome run_case(const std::string& case_dir, const std::string& backend);

// One test_data_set_N: input_k.pb / output_k.pb, k = 0, 1, ... in order.
struct DataSet {
  std::string name;  // "test_data_set_0"
  std::vector<Tensor> inputs, outputs;
  std::vector<onnx::TensorProto> input_protos;  // the inputs as read
};

// Why the case is out of scope, or "" when it is in scope: every op of the
// model is in the registry for its opset (model_ops()), every runtime input
// and graph output is a tensor (no sequence, optional or map), of an element
// type the tool has as a runtime type (float32, float16, bfloat16, int64,
// int32, int8, uint8, bool; not double, int16, string...).
std::string out_of_scope(const onnx::ModelProto& model, const std::string& bytes, const std::string& name);
// The unsupported ops of a model, domain-qualified outside ai.onnx.
std::vector<std::string> unsupported_ops(const onnx::ModelProto& model, const std::string& bytes,
                                         const std::string& name);

// Every test_data_set_* of a case folder, sorted by name (`model`: the case's
// model, for the declared types). Throws for a file that does not parse or a
// tensor the tool cannot hold.
std::vector<DataSet> read_data_sets(const std::string& case_dir, const onnx::ModelProto& model);

// The tool needs shape-like inputs (Reshape's shape, Slice's starts, Expand's
// shape, Squeeze's axes...) known before a batch runs: a constant or computed
// from shapes. The suite feeds them as graph inputs. This makes `out`: the
// model with every int64 runtime input turned into an initializer holding the
// data set's values, and `inputs` the data set's other inputs. False when no
// input is int64 or none would be left.
bool inline_int64_inputs(const onnx::ModelProto& model, const DataSet& set, onnx::ModelProto& out,
                         std::vector<Tensor>& inputs);

// The model with every runtime input X re-declared as a new input of shape
// [batch, ?...] (ranks[k] unknown dims after the batch: the rank of the data
// set's input k) followed by Squeeze(axes=[0]) -> X, serialized. The tool's
// loader and Graph::plan() treat dim 0 of every input as the batch (scalars
// refused, all inputs sharing it, a load-time check at batches 1 and 2); fed
// with batch 1, this model computes exactly what the original does on the
// data set's shapes, whatever they are.
std::string wrap_inputs(const onnx::ModelProto& model, const std::vector<size_t>& ranks);

// The graph run on host tensors at their full shapes: Graph::plan() for the
// shapes, then every runtime node's CPU kernel in order (no fusion, no buffer
// reuse, one thread). Returns the graph outputs.
std::vector<Tensor> run_graph_on_host(const Graph& g, const std::vector<Tensor>& inputs);

// Whether `g` (the original model) fits the Backend interface's batch
// contract for these inputs: every input has rank >= 1 and the same first dim
// N >= 1, and at batches 1, 2 and N every output's first dim is the batch and
// its other dims do not change. "" when it does, else why not.
std::string batch_misfit(const Graph& g, const std::vector<Tensor>& inputs);

// The graph run through a Backend (prepare() with the inputs' shapes less the
// first dim and max_batch N, then run(N)). batch_misfit() must be "".
std::vector<Tensor> run_on_backend(Backend& backend, const Graph& g, const std::vector<Tensor>& inputs);

// Inputs converted to the graph inputs' types (the .pb tensors come as
// float32 for float16/bfloat16 data); throws naming the input on a mismatch.
std::vector<Tensor> to_input_types(const Graph& g, const std::vector<Tensor>& inputs);

// "" when `got` matches `want` (shape, type, values at the tolerances; NaN
// matches NaN, an infinity only itself), else what differs: the largest error
// and where.
std::string compare(const Tensor& got, const Tensor& want, double rtol = kRtol, double atol = kAtol);

}  // namespace mgi::conformance
