// Helpers of the Conv/pool/Resize/Pad tests: run one node on typed host
// tensors with a thread count, returning the inferred shape and the values.
#pragma once
#include <string>
#include <vector>

#include "cpu_ops_test_util.hpp"

namespace mgi {
namespace {

struct OpResult {
  Shape shape;
  std::vector<float> y;
};

inline Tensor f32_tensor(const Shape& s, const std::vector<float>& v) {
  Tensor t(DType::f32, s);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}
inline Tensor i64_tensor(const std::vector<int64_t>& v) {
  Tensor t(DType::i64, Shape{static_cast<int64_t>(v.size())});
  std::copy(v.begin(), v.end(), t.data<int64_t>());
  return t;
}

// Inference, then the CPU kernel with `threads` threads; inputs may be nullptr (absent).
inline OpResult run_op(const Node& n, const std::vector<const Tensor*>& ins, int threads = 1) {
  const std::string source = "t.onnx";
  InferArgs ia{n, source, {}, {}, {}};
  for (const Tensor* t : ins) {
    ia.types.push_back(t ? t->dtype : DType::f32);
    ia.shapes.push_back(t ? &t->shape : nullptr);
    ia.values.push_back(t);
  }
  std::vector<OutInfo> info(1);
  n.def->infer(ia, info);
  OpResult r;
  r.shape = info[0].shape;
  r.y.assign(static_cast<size_t>(shape_numel(r.shape)), std::nanf(""));
  ExecOptions opt;
  opt.threads = threads;
  KernelArgs args{n, {}, {}, opt};
  for (const Tensor* t : ins) args.in.push_back(t ? In{t->dtype, &t->shape, t->raw()} : In{});
  args.out.push_back(Out{DType::f32, &r.shape, r.y.data()});
  n.def->cpu(args);
  return r;
}

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace
}  // namespace mgi
