// Small graph IR: an ONNX model after loading, constant folding and attribute
// parsing. Backends execute `nodes` in order. Values are typed (value.dtype);
// their shapes are not stored: the batch and other dynamic dims change per
// batch, so plan() computes them for concrete input shapes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor.hpp"

namespace mgi {

struct OpDef;  // op_registry.hpp: the op's definition (attributes, inference, CPU kernel)

// The elementwise functions of the unary ops (unary.cpp), the unit of fused
// chains and GEMM epilogues. Listed once here because fusion and both
// backends name them.
enum class UnaryFn : uint8_t {
  relu, leaky_relu, sigmoid, tanh, erf, gelu, exp, log, sqrt, neg, abs,
  elu, selu, celu, hard_sigmoid, hard_swish, softplus, softsign, mish,
  reciprocal, floor, ceil, round, sign, sin, cos
};

// One unary elementwise function of a fused chain or GEMM epilogue (graph_fuse.hpp).
struct UnaryStep {
  UnaryFn fn = UnaryFn::relu;
  float alpha = 0.01f;       // LeakyRelu slope; Elu/Selu/Celu/HardSigmoid alpha
  bool gelu_tanh = false;    // Gelu approximate="tanh"
  float beta = 0.0f;         // HardSigmoid beta; Selu gamma
};

struct Node {
  const OpDef* def = nullptr;  // never null after loading
  std::string name;     // ONNX node name (or "<op_type>_<index>" when unnamed)
  std::string op_type;  // ONNX op_type as written in the model
  std::vector<int> inputs;   // value ids; -1 = optional input left out
  std::vector<int> outputs;  // value ids; -1 = optional output not used

  // The op's name in the registry ("Gemm"; Dropout and float Cast are registered on their own).
  bool is(const char* op) const;

  // Attributes, parsed and validated at load time by the op's definition; each op reads the ones it uses.
  float alpha = 1.0f;       // Gemm alpha; LeakyRelu alpha (ONNX default 0.01); Elu/Selu/Celu/HardSigmoid/LRN alpha
  float beta = 1.0f;        // Gemm beta; HardSigmoid beta; Selu gamma; LRN beta
  bool trans_a = false;     // Gemm
  bool trans_b = false;     // Gemm
  int64_t axis = 1;         // Softmax/LogSoftmax/Flatten/LayerNormalization/Gather/Concat..., as written
  bool softmax_2d = false;  // Softmax/LogSoftmax from opset < 13: flatten to 2-D at axis, normalize rows
  float epsilon = 1e-5f;    // BatchNormalization/LayerNormalization/InstanceNormalization/GroupNormalization
  bool gelu_tanh = false;   // Gelu approximate="tanh"
  UnaryFn unary = UnaryFn::relu;  // unary ops: their function
  bool allowzero = false;   // Reshape
  std::vector<int64_t> perm;  // Transpose (empty = reverse)
  std::vector<int64_t> ints;  // an op's int list attribute (Squeeze/Unsqueeze axes before opset 13, ...);
                              // one int: GroupNormalization num_groups, LRN size, LpNormalization p
  DType to = DType::f32;      // Cast: target type
  double value = 0;           // a scalar attribute (ConstantOfShape's value is a tensor: `tensor`); LRN bias
  Tensor tensor;              // a tensor attribute (ConstantOfShape value)
  int64_t ns_per_unit = 1000; // mgi.test.Work: sleep per unit of row length, in nanoseconds
  int64_t opset = 0;          // the model's opset, for ops whose semantics changed
  // Mod, IsInf (math.cpp, logic.cpp). Clip before opset 11 keeps its min/max attributes in alpha/beta.
  bool fmod = false;            // Mod: 1 = C fmod (sign of the dividend); 0 = integer modulo, sign of the divisor
  bool detect_positive = true;  // IsInf
  bool detect_negative = true;  // IsInf

  // Conv, ConvTranspose, MaxPool, AveragePool, LpPool (conv.cpp, pool.cpp): spatial attributes as
  // written (empty = the ONNX default for the input's rank; pads = every begin, then every end).
  std::vector<int64_t> kernel_shape, strides, pads, dilations;
  std::vector<int64_t> output_padding, output_shape;  // ConvTranspose (output_shape empty = computed)
  int64_t group = 1;                                  // Conv, ConvTranspose
  std::string auto_pad = "NOTSET";                    // NOTSET, SAME_UPPER, SAME_LOWER, VALID
  bool ceil_mode = false;                             // MaxPool, AveragePool, LpPool
  bool count_include_pad = false;                     // AveragePool
  int64_t lp_p = 2;                                   // LpPool
  // Resize/Upsample (resize.cpp), Pad, DepthToSpace (pad_space.cpp): `mode` as written
  // (Resize: nearest/linear/cubic; Pad: constant/reflect/edge; DepthToSpace: DCR/CRD).
  // Pad before opset 11: pads in `ints`, value in `value`; Resize opset 18 axes in `ints`.
  std::string mode;
  std::string coord_mode = "half_pixel";              // Resize coordinate_transformation_mode
  std::string nearest_mode = "round_prefer_floor";    // Resize
  float cubic_a = -0.75f;                             // Resize cubic_coeff_a
  bool exclude_outside = false;                       // Resize
  float extrapolation = 0.0f;                         // Resize extrapolation_value (tf_crop_and_resize)
  std::string aspect_policy = "stretch";              // Resize keep_aspect_ratio_policy (opset 18)
  int64_t blocksize = 0;                              // DepthToSpace, SpaceToDepth

  // Reductions, index and contraction ops (reduce.cpp, gather_scatter.cpp, einsum.cpp); axes in `ints`.
  bool keepdims = true;             // Reduce*, ArgMax, ArgMin
  bool noop_with_empty_axes = false;  // Reduce*: empty axes = identity instead of reducing every axis
  bool select_last_index = false;   // ArgMax, ArgMin: ties give the last index
  bool exclusive = false;           // CumSum
  bool reverse = false;             // CumSum
  bool largest = true;              // TopK
  bool sorted = true;               // TopK
  bool upper = true;                // Trilu
  int64_t num_outputs = 0;          // Split (opset 18): 0 = not given
  int64_t batch_dims = 0;           // GatherND
  std::string equation;             // Einsum, validated at load time (spaces removed)

  // Set by fuse_graph() only (graph_fuse.hpp); the loader leaves them empty.
  // MatMul: an optional inputs[2] is a bias of shape [n] or [1, n] added to
  // every row after the product (a fused Add). Gemm, MatMul and unary ops:
  // `epilogue` ops are applied in order to every result element, after the
  // bias (Gemm: after + beta * C).
  std::vector<UnaryStep> epilogue;
};

// The node's own function as a step (n must be a unary op).
UnaryStep unary_step(const Node& n);

struct Value {
  std::string name;
  DType dtype = DType::f32;
  bool is_constant = false;  // initializer, Constant node or folded result
  Tensor data;               // when is_constant
  // Computed on the host from shapes and constants alone (Shape -> Gather ->
  // Concat -> Reshape): plan() evaluates it per set of input shapes, and no
  // backend ever computes it on a device.
  bool host = false;
};

// Concrete shapes of every value for one set of input shapes, and the values
// of the host values (indexed by value id; empty tensors elsewhere).
struct ShapePlan {
  std::vector<Shape> shapes;
  std::vector<Tensor> host;
};

// A file holding some of a model's weights (ONNX external data), as found
// when the model was loaded: its location relative to the model's folder.
struct ExternalDataFile {
  std::string location;
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;          // topological order; constants already folded away
  std::vector<int> inputs;          // runtime inputs (value ids), in ONNX order
  std::vector<Shape> input_shapes;  // declared shapes; dims < 0 are dynamic, dim 0 is the batch
  std::vector<std::vector<std::string>> input_dim_names;  // declared symbolic dims ("batch", "sequence"), "" if none
  std::vector<int> outputs;         // graph outputs (value ids), in ONNX order
  int64_t opset = 0;
  std::string producer;             // producer_name + version, for reports
  int64_t parameter_count = 0;      // elements in initializers
  std::string source;               // model file name, for messages ("model <source>: ...")
  std::vector<ExternalDataFile> external_files;  // weight files beside the model (ONNX external data)

  const std::string& input_name(size_t k) const { return values[inputs[k]].name; }
  const std::string& output_name(size_t k) const { return values[outputs[k]].name; }
  DType input_type(size_t k) const { return values[inputs[k]].dtype; }
  DType output_type(size_t k) const { return values[outputs[k]].dtype; }

  // Shapes of every value and the host values, for concrete input shapes (one
  // per graph input, batch dim first). Throws ModelError naming the node and
  // the shapes on any mismatch.
  ShapePlan plan(const std::vector<Shape>& concrete_inputs) const;
  std::vector<Shape> infer_shapes(const std::vector<Shape>& concrete_inputs) const {
    return plan(concrete_inputs).shapes;
  }
};

// Parses serialized ONNX bytes. `source` names the file in error messages.
// Throws ModelError (exit 4) for malformed protobuf, unsupported ops (naming
// every unsupported op of the model at once), bad attributes, or tensors whose
// sizes do not add up.
// Tensors with external data are refused by this form (no folder to read them from).
Graph load_onnx(const std::string& bytes, const std::string& source);
// Same, reading external data (onnx external_data.hpp) from `data_dir`, the
// model file's folder; the files read are listed in Graph::external_files.
Graph load_onnx(const std::string& bytes, const std::string& source, const std::string& data_dir);

// The batch size the model's inputs fix (their declared first dim, e.g. 1 in
// [1, 3, 224, 224]), or 0 when every input's batch dim is dynamic. Inputs that
// fix different batches: ModelError.
int64_t model_fixed_batch(const Graph& graph);

// Every op of a model with whether the registry supports it, without loading
// it fully (for `mgi-mpi inspect`): op_type (domain-qualified outside ai.onnx), count, supported.
struct OpUse {
  std::string op;
  int count = 0;
  bool supported = false;
};
std::vector<OpUse> model_ops(const std::string& bytes, const std::string& source);

}  // namespace mgi
