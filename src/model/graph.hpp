// Small graph IR: an ONNX model after loading, constant folding and attribute
// parsing. Backends execute `nodes` in order; every node reads and writes
// float32 values. Shapes are not stored per value: the batch dimension is
// dynamic, so infer_shapes() computes them for concrete input shapes.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace mgi {

enum class OpKind {
  Gemm, MatMul,
  Add, Sub, Mul, Div,                       // numpy broadcasting
  Relu, LeakyRelu, Sigmoid, Tanh, Erf, Gelu,
  Exp, Log, Sqrt, Neg, Abs, Pow,            // helpers that exported layer norms / activations use
  Softmax, LogSoftmax,
  Flatten, Reshape, Identity, Transpose,    // layout (Identity = copy; Dropout, float Cast map here)
  BatchNormalization, LayerNormalization,
  TestWork,  // "mgi.test" domain "Work": benchmarks/tests only (sleeps in proportion to x[:, 0]); CPU only
};

const char* op_name(OpKind k);

// Marks "the runtime batch size" inside Node::target_shape: a Reshape whose
// shape came from Shape(x)[0] of a runtime value (x.view(x.size(0), -1)).
// Resolved by infer_shapes to the batch of the concrete inputs.
constexpr int64_t kBatchDim = std::numeric_limits<int64_t>::min() + 7;

// One unary elementwise op of a fused chain or GEMM epilogue (graph_fuse.hpp).
struct UnaryStep {
  OpKind op = OpKind::Relu;  // Relu, LeakyRelu, Sigmoid, Tanh, Erf, Gelu, Exp, Log, Sqrt, Neg, Abs
  float alpha = 0.01f;       // LeakyRelu slope
  bool gelu_tanh = false;    // Gelu approximate="tanh"
};

// Unary elementwise ops (one input, output shape = input shape, y[i] = f(x[i])).
bool is_unary_op(OpKind k);

struct Node {
  OpKind op = OpKind::Identity;
  std::string name;     // ONNX node name (or "<op_type>_<index>" when unnamed)
  std::string op_type;  // ONNX op_type as written in the model
  std::vector<int> inputs;   // value ids; -1 = optional input left out
  std::vector<int> outputs;  // value ids

  // Attributes, parsed and validated at load time; each op reads the ones it uses.
  float alpha = 1.0f;       // Gemm alpha; LeakyRelu alpha (loader sets ONNX default 0.01)
  float beta = 1.0f;        // Gemm beta
  bool trans_a = false;     // Gemm
  bool trans_b = false;     // Gemm
  int64_t axis = 1;         // Softmax/LogSoftmax/Flatten/LayerNormalization, as written (may be negative)
  bool softmax_2d = false;  // Softmax/LogSoftmax from opset < 13: flatten to 2-D at axis, normalize rows
  float epsilon = 1e-5f;    // BatchNormalization/LayerNormalization
  bool gelu_tanh = false;   // Gelu approximate="tanh"
  Shape target_shape;       // Reshape: folded shape input (0 = copy dim unless allowzero, -1 = infer,
                            // kBatchDim = batch size)
  bool allowzero = false;   // Reshape
  std::vector<int64_t> perm;  // Transpose (empty = reverse)
  int64_t ns_per_unit = 1000; // TestWork: sleep per unit of row length, in nanoseconds

  // Set by fuse_graph() only (graph_fuse.hpp); the loader leaves them empty.
  // MatMul: an optional inputs[2] is a bias of shape [n] or [1, n] added to
  // every row after the product (a fused Add). Gemm, MatMul and unary ops:
  // `epilogue` ops are applied in order to every result element, after the
  // bias (Gemm: after + beta * C).
  std::vector<UnaryStep> epilogue;
};

// The node's own op as a step (n.op must be unary).
UnaryStep unary_step(const Node& n);

struct Value {
  std::string name;
  bool is_constant = false;  // initializer, Constant node or folded result
  Tensor data;               // when is_constant
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;          // topological order; constants already folded away
  std::vector<int> inputs;          // runtime inputs (value ids), in ONNX order, float32
  std::vector<Shape> input_shapes;  // declared shapes; dims < 0 are dynamic, dim 0 is the batch
  std::vector<int> outputs;         // graph outputs (value ids), in ONNX order
  int64_t opset = 0;
  std::string producer;             // producer_name + version, for reports
  int64_t parameter_count = 0;      // elements in initializers
  std::string source;               // model file name, for messages ("model <source>: ...")

  const std::string& input_name(size_t k) const { return values[inputs[k]].name; }
  const std::string& output_name(size_t k) const { return values[outputs[k]].name; }

  // Shapes of every value (indexed by value id) for concrete input shapes
  // (one per graph input, batch dim first). Throws ModelError naming the node
  // and the shapes on any mismatch.
  std::vector<Shape> infer_shapes(const std::vector<Shape>& concrete_inputs) const;
};

// Output shape of one node for concrete input shapes (constants: their own
// shape); `batch` resolves kBatchDim. Throws ModelError "model <source>: node
// 'n' (Op): ..." naming the shapes and what was expected.
Shape infer_node_shape(const Node& node, const std::vector<Shape>& inputs, const std::string& source,
                       int64_t batch);

// Parses serialized ONNX bytes. `source` names the file in error messages.
// Throws ModelError (exit 4) for malformed protobuf, unsupported ops (naming the
// op and the node), bad attributes, or tensors whose sizes do not add up.
Graph load_onnx(const std::string& bytes, const std::string& source);

}  // namespace mgi
