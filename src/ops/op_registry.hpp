// The one list of ops. An OpDef holds everything the core knows about an ONNX
// op: its key (domain, name, opset range), input/output arity, attribute
// parsing, type and shape inference, and its CPU kernel. The loader, constant
// folding (which runs the CPU kernels), the CPU backend, `inspect` and
// docs/OPS.md all read it; the CUDA backend registers its kernels for the same
// keys (kernels/backend/cuda_kernels.hpp). Each family file under src/ops/
// defines its ops and adds them in its register_*_ops() (listed once, in
// op_registry.cpp). docs/ADDING_AN_OP.md walks through one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph.hpp"
#include "tensor.hpp"

namespace mgi {

class OnnxNode;  // onnx_attrs.hpp

namespace cpu {
struct PackedB;  // gemm_kernel.hpp
// What the CPU backend passes every kernel besides its tensors.
struct ExecOptions {
  int threads = 1;  // OpenMP threads for this node (>= 1)
  // Gemm/MatMul with a constant 2-D B: op(B) packed once by the backend (else packed per call).
  const PackedB* packed_b = nullptr;
};
}  // namespace cpu

// A tensor a kernel reads: type, shape and host data (nullptr when the optional input is absent).
struct In {
  DType dtype = DType::f32;
  const Shape* shape = nullptr;
  const void* data = nullptr;
  bool present() const { return shape != nullptr; }
  template <class T>
  const T* as() const {
    return static_cast<const T*>(data);
  }
  int64_t numel() const { return shape_numel(*shape); }
};
// A tensor a kernel writes.
struct Out {
  DType dtype = DType::f32;
  const Shape* shape = nullptr;
  void* data = nullptr;
  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }
  int64_t numel() const { return shape_numel(*shape); }
};

struct KernelArgs {
  const Node& node;
  std::vector<In> in;    // one per node input, in order
  std::vector<Out> out;  // one per node output (data nullptr for an unused optional output)
  const cpu::ExecOptions& opt;
};
using CpuKernel = void (*)(const KernelArgs&);

// What an op's inference sees: each input's type and concrete shape, and its
// value where the host knows it (a constant, or a host value of this plan).
struct InferArgs {
  const Node& node;
  const std::string& source;  // model file, for messages
  std::vector<DType> types;
  std::vector<const Shape*> shapes;   // nullptr for an absent optional input
  std::vector<const Tensor*> values;  // nullptr where not known on the host

  size_t count() const { return shapes.size(); }
  bool has(size_t k) const { return k < shapes.size() && shapes[k] != nullptr; }
  const Shape& shape(size_t k) const;   // fails when absent
  DType type(size_t k) const { return types.at(k); }
  // The host value of input k (constant or computed from shapes); fails naming `what` when unknown.
  const Tensor& value(size_t k, const char* what) const;
  // "model <source>: node 'n' (Op): <what>"
  [[noreturn]] void fail(const std::string& what) const;
  // axis in [-rank, rank + extra) normalized to [0, rank + extra).
  int64_t axis(int64_t a, size_t rank, int64_t extra = 0, const char* what = "axis") const;
  // Numpy broadcast of two shapes, or fail naming both.
  Shape broadcast(const Shape& a, const Shape& b) const;
  // Fails unless input k has type t (or, with `any_float`, any float type).
  void want_type(size_t k, DType t) const;
};
struct OutInfo {
  DType dtype = DType::f32;
  Shape shape;
};
// Fills one OutInfo per node output (out is sized to the node's outputs).
using InferFn = void (*)(const InferArgs&, std::vector<OutInfo>& out);
// Element type of output k from the input types alone (known at load time,
// before any shape is): nullptr means "the type of input 0".
using TypeFn = DType (*)(const Node& n, const std::vector<DType>& inputs, size_t k);
// Reads and validates the node's attributes into `n` (n.opset is set); fails through on.fail().
using ParseFn = void (*)(const OnnxNode& on, Node& n);

struct OpDef {
  std::string domain;  // "" for ai.onnx; "com.microsoft", "mgi.test"
  std::string name;    // ONNX op_type
  int since = 1;       // first opset this definition covers
  int until = 0;       // last opset it covers (0 = every later one)
  int min_inputs = 1, max_inputs = 1;
  int min_outputs = 1, max_outputs = 1;  // outputs beyond these are refused if used
  ParseFn parse = nullptr;               // nullptr: no attributes
  InferFn infer = nullptr;
  CpuKernel cpu = nullptr;
  // Reads only its inputs' shapes (Shape, Size): computed on the host from
  // shapes alone, whatever the backend.
  bool shape_only = false;
  // Output 0 is input 0's bytes under another shape (Reshape, Flatten, Squeeze,
  // Unsqueeze, Identity): a backend may alias the storage instead of copying.
  bool alias = false;
  // Never evaluated at load time (benchmark and test ops).
  bool no_fold = false;
  std::string types;  // for docs/OPS.md: "float32", "all", "T: float32; Tind: int32, int64"
  std::string notes;  // for docs/OPS.md: forms not supported, semantics chosen
  TypeFn type = nullptr;
};

class OpRegistry {
 public:
  static const OpRegistry& get();
  // The definition of (domain, name) that covers `opset`; nullptr if none.
  const OpDef* find(const std::string& domain, const std::string& name, int64_t opset) const;
  // Every definition, sorted by domain, name, since.
  const std::vector<OpDef>& all() const { return defs_; }
  void add(OpDef def);

 private:
  std::vector<OpDef> defs_;
};

// The families (one file each under src/ops/).
void register_gemm_ops(OpRegistry& r);
void register_unary_ops(OpRegistry& r);
void register_binary_ops(OpRegistry& r);
void register_math_ops(OpRegistry& r);
void register_softmax_ops(OpRegistry& r);
void register_normalization_ops(OpRegistry& r);
void register_layout_ops(OpRegistry& r);
void register_slice_concat_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_index_ops(OpRegistry& r);
void register_reduce_ops(OpRegistry& r);
void register_along_axis_ops(OpRegistry& r);
void register_gather_scatter_ops(OpRegistry& r);
void register_einsum_ops(OpRegistry& r);
void register_logic_ops(OpRegistry& r);
void register_cast_ops(OpRegistry& r);
void register_constant_ops(OpRegistry& r);
void register_conv_ops(OpRegistry& r);
void register_pool_ops(OpRegistry& r);
void register_resize_ops(OpRegistry& r);
void register_pad_space_ops(OpRegistry& r);
void register_test_ops(OpRegistry& r);

// A node of op `op` (ai.onnx unless `domain` says otherwise) as the loader
// would make it from a node without attributes (every ONNX default set by the
// op's parse), with its definition for `opset`; throws ModelError when the registry has no such op.
// For graph rewrites (fusion) and tests.
Node make_node(const std::string& op, std::vector<int> inputs, std::vector<int> outputs, int64_t opset = 17,
               const std::string& domain = "");

// Runs a node's CPU kernel on host tensors (constant folding, host values,
// tests): infers the outputs' types and shapes, allocates and computes them.
std::vector<Tensor> run_cpu_node(const Node& node, const std::vector<const Tensor*>& inputs,
                                 const std::string& source);

// The ONNX default domain is "" or "ai.onnx".
inline bool default_domain(const std::string& d) { return d.empty() || d == "ai.onnx"; }

}  // namespace mgi
