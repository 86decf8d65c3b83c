#include "gemm_engine.hpp"

#include <algorithm>
#include <cstdio>

#include "conv_plan.hpp"
#include "epilogue_plan.hpp"
#include "error.hpp"

namespace mgi::cuda {

namespace {

constexpr size_t kAlign = 256;
constexpr size_t kWorkspaceBytes = size_t(32) << 20;  // cuBLASLt's recommendation for Hopper

size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

cublasLtEpilogue_t lt_epilogue(LtEpilogue e) {
  switch (e) {
    case LtEpilogue::none: return CUBLASLT_EPILOGUE_DEFAULT;
    case LtEpilogue::bias: return CUBLASLT_EPILOGUE_BIAS;
    case LtEpilogue::relu: return CUBLASLT_EPILOGUE_RELU;
    case LtEpilogue::relu_bias: return CUBLASLT_EPILOGUE_RELU_BIAS;
    case LtEpilogue::gelu: return CUBLASLT_EPILOGUE_GELU;
    case LtEpilogue::gelu_bias: return CUBLASLT_EPILOGUE_GELU_BIAS;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

// RAII for the cuBLASLt descriptors of one plan.
struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  MatmulDesc(cublasComputeType_t compute) { MGI_CUBLAS(cublasLtMatmulDescCreate(&d, compute, CUDA_R_32F)); }
  ~MatmulDesc() {
    if (d) (void)cublasLtMatmulDescDestroy(d);
  }
  MatmulDesc(const MatmulDesc&) = delete;
  MatmulDesc& operator=(const MatmulDesc&) = delete;
  template <class T>
  void set(cublasLtMatmulDescAttributes_t attr, const T& v) {
    MGI_CUBLAS(cublasLtMatmulDescSetAttribute(d, attr, &v, sizeof v));
  }
};

struct Layout {
  cublasLtMatrixLayout_t l = nullptr;
  Layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld) {
    MGI_CUBLAS(cublasLtMatrixLayoutCreate(&l, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols), ld));
  }
  ~Layout() {
    if (l) (void)cublasLtMatrixLayoutDestroy(l);
  }
  Layout(const Layout&) = delete;
  Layout& operator=(const Layout&) = delete;
};

constexpr int64_t ld(int64_t v) { return v > 0 ? v : 1; }

}  // namespace

GemmTypes gemm_types(Precision p) {
  GemmTypes t;
  switch (p) {
    case Precision::fp32: break;
    case Precision::tf32: t.compute = CUBLAS_COMPUTE_32F_FAST_TF32; break;
    case Precision::bf16: t.ab = CUDA_R_16BF; break;
    case Precision::fp16: t.ab = CUDA_R_16F; break;
  }
  return t;
}

// Row-major y[m, n] = op(A) op(B) is column-major y^T[n, m] = op(B)^T op(A)^T:
// cuBLASLt's "A" is our B and its "B" our A, and the bias runs along its rows (our n).
// Everything here is fixed by the key (gemm_plan_key.hpp) but the bias pointer,
// which run_lt() sets before every call.
struct GemmEngine::LtPlan {
  MatmulDesc desc;
  Layout a, b, d;
  cublasLtMatmulHeuristicResult_t heuristic{};
  bool found = false;
  explicit LtPlan(const LtPlanKey& key)
      : desc(static_cast<cublasComputeType_t>(key.compute_type)),
        a(static_cast<cudaDataType_t>(key.ab_type), key.trans_b ? key.k : key.n, key.trans_b ? key.n : key.k,
          ld(key.trans_b ? key.k : key.n)),
        b(static_cast<cudaDataType_t>(key.ab_type), key.trans_a ? key.m : key.k, key.trans_a ? key.k : key.m,
          ld(key.trans_a ? key.m : key.k)),
        d(CUDA_R_32F, key.n, key.m, ld(key.n)) {
    const cublasOperation_t ta = key.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, tb = key.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    desc.set(CUBLASLT_MATMUL_DESC_TRANSA, ta);
    desc.set(CUBLASLT_MATMUL_DESC_TRANSB, tb);
    desc.set(CUBLASLT_MATMUL_DESC_EPILOGUE, lt_epilogue(key.epilogue));
  }
};

GemmEngine::GemmEngine(Precision precision) : precision_(precision), types_(gemm_types(precision)) {}

GemmEngine::~GemmEngine() = default;

void GemmEngine::prepare(const Graph& g, const std::vector<Shape>& max_shapes, const ValuePtr& ptr,
                         cudaStream_t stream) {
  plans_.clear();
  plans_made_ = 0;
  lt_calls_ = fallback_calls_ = 0;
  weight_at_.clear();
  weights_.reset();
  scratch_[0].reset();
  scratch_[1].reset();
  if (!workspace_.get()) workspace_ = DeviceBuffer(kWorkspaceBytes);
  conv_scratch_.reset();
  int64_t conv_floats = 0;
  for (const Node& n : g.nodes) {
    if (!n.is("Conv") && !n.is("ConvTranspose")) continue;
    const Shape& x = max_shapes[static_cast<size_t>(n.inputs[0])];
    const Shape& w = max_shapes[static_cast<size_t>(n.inputs[1])];
    conv_floats = std::max(conv_floats, (n.is("Conv") ? plan_conv(n, x, w) : plan_conv_transpose(n, x, w)).scratch_floats());
  }
  try {
    conv_scratch_ = DeviceBuffer(static_cast<size_t>(conv_floats) * sizeof(float));
  } catch (const Error& e) {
    throw RuntimeError(std::string(e.what()) + " (Conv im2col scratch: " + std::to_string((conv_floats * 4) >> 20) +
                       " MiB)");
  }
  if (types_.ab == CUDA_R_32F) return;

  size_t weight_total = 0, need[2] = {0, 0};
  for (const Node& n : g.nodes) {
    if (!n.is("Gemm") && !n.is("MatMul")) continue;
    for (size_t k = 0; k < 2; ++k) {
      const int v = n.inputs[k];
      const size_t bytes = static_cast<size_t>(shape_numel(max_shapes[static_cast<size_t>(v)])) * types_.ab_bytes();
      if (g.values[static_cast<size_t>(v)].is_constant) {
        if (weight_at_.emplace(v, weight_total).second) weight_total += align_up(bytes);
      } else {
        need[k] = std::max(need[k], bytes);
      }
    }
  }
  try {
    weights_ = DeviceBuffer(weight_total);
    for (size_t k = 0; k < 2; ++k) scratch_[k] = DeviceBuffer(need[k]);
  } catch (const Error& e) {
    throw RuntimeError(std::string(e.what()) + " (" + precision_name(precision_) + " copies of the weights: " +
                       std::to_string(weight_total >> 20) + " MiB, conversion scratch: " +
                       std::to_string((need[0] + need[1]) >> 20) + " MiB)");
  }
  for (const auto& [v, offset] : weight_at_)
    convert_f32(ptr(v), weights_.bytes_ptr() + offset, types_.ab, shape_numel(max_shapes[static_cast<size_t>(v)]),
                stream);
}

const void* GemmEngine::operand(const CudaOpContext& c, size_t k, cudaStream_t stream) {
  const CudaTensor& t = c.in[k];
  if (types_.ab == CUDA_R_32F) return t.data;
  auto w = weight_at_.find(c.node.inputs[k]);
  if (w != weight_at_.end()) return weights_.bytes_ptr() + w->second;
  const int64_t count = t.numel();
  MGI_ASSERT(static_cast<size_t>(count) * types_.ab_bytes() <= scratch_[k].bytes(),
             "GEMM operand larger than its conversion scratch");
  convert_f32(t.as<const float>(), scratch_[k].get(), types_.ab, count, stream);
  return scratch_[k].get();
}

bool GemmEngine::run_lt(const LtPlanKey& key, float alpha, const float* bias, const void* a, const void* b,
                        float* y, cudaStream_t stream) {
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    if (plans_.size() >= kMaxPlans) plans_.clear();
    auto plan = std::make_unique<LtPlan>(key);
    // The heuristic reads the bias pointer for its alignment (the key's bias_align).
    if (bias) plan->desc.set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
    cublasLtMatmulPreference_t pref = nullptr;
    MGI_CUBLAS(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t ws = workspace_.bytes();
    int returned = 0;
    cublasStatus_t st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                             sizeof ws);
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulAlgoGetHeuristic(lt_.get(), plan->desc.d, plan->a.l, plan->b.l, plan->d.l, plan->d.l, pref,
                                          1, &plan->heuristic, &returned);
    (void)cublasLtMatmulPreferenceDestroy(pref);
    ++plans_made_;
    // No algorithm (NOT_SUPPORTED: this shape/epilogue/type has none): the
    // caller takes the cublasGemmEx path, which is correct for every shape.
    // Any other status is unexpected (a layout or attribute this cuBLASLt
    // version rejects, an internal error): the same fallback keeps results
    // right, but the fused path is lost, so say so once.
    if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED && !rejection_reported_) {
      std::fprintf(stderr,
                   "mgi-mpi: warning: cuBLASLt rejected a GEMM plan (m %lld, n %lld, k %lld, trans_a %d, trans_b %d, "
                   "epilogue %s): %s: %s; such GEMMs run on cublasGemmEx with a separate epilogue pass\n",
                   static_cast<long long>(key.m), static_cast<long long>(key.n), static_cast<long long>(key.k),
                   key.trans_a ? 1 : 0, key.trans_b ? 1 : 0, lt_epilogue_name(key.epilogue), cublasGetStatusName(st),
                   cublasGetStatusString(st));
      rejection_reported_ = true;
    }
    plan->found = st == CUBLAS_STATUS_SUCCESS && returned > 0;
    it = plans_.emplace(key, std::move(plan)).first;
  }
  LtPlan& plan = *it->second;
  if (!plan.found) return false;
  // Per call, not per plan: a bias that is a graph input lives in the current
  // pipeline lane, and the lanes share the plan. A host-side write; the launch
  // (or a CUDA graph capturing it) takes the pointer as it is now.
  if (bias) plan.desc.set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
  const float beta = 0.0f;
  MGI_CUBLAS(cublasLtMatmul(lt_.get(), plan.desc.d, &alpha, b, plan.a.l, a, plan.b.l, &beta, y, plan.d.l, y,
                            plan.d.l, &plan.heuristic.algo, workspace_.get(), workspace_.bytes(), stream));
  return true;
}

void GemmEngine::run(CudaOpContext& c) {
  const Node& node = c.node;
  for (size_t k = 0; k < c.in.size(); ++k)
    if (c.has(k)) c.want(k, {DType::f32});
  cublasHandle_t handle = c.cublas;
  cudaStream_t stream = c.stream;
  std::vector<Shape> sh;
  for (size_t k = 0; k < c.in.size(); ++k) sh.push_back(c.has(k) ? c.shape(k) : Shape{});
  GemmRoute r = route_gemm(node, sh);
  float* y = c.out[0].as<float>();
  const int64_t count = c.out[0].numel();
  if (count == 0) return;
  const void* a = operand(c, 0, stream);
  const void* b = operand(c, 1, stream);
  const float* bias = r.bias ? c.in[2].as<const float>() : nullptr;

  const bool is_gemm = node.is("Gemm");
  const float alpha = is_gemm ? node.alpha : 1.0f;
  bool done = false;
  if (r.lt) {
    done = run_lt(lt_plan_key(node, r, bias, types_.ab, types_.compute), alpha, bias, a, b, y, stream);
    ++(done ? lt_calls_ : fallback_calls_);
  }
  if (!done) {
    r.steps_done = 0;
    const bool two_d = is_gemm || (sh[1].size() == 2 && sh[0].size() >= 2);
    if (!two_d) {
      matmul(handle, a, sh[0], b, sh[1], y, types_);
    } else {
      float beta = 0.0f;
      if (bias) {  // y = bias broadcast, then cuBLAS adds alpha * A B
        expand(bias, sh[2], y, {r.m, r.n}, stream);
        beta = r.beta;
      }
      const bool ta = is_gemm && node.trans_a, tb = is_gemm && node.trans_b;
      if (r.k == 0 && beta == 0.0f)
        MGI_CUDA(cudaMemsetAsync(y, 0, static_cast<size_t>(count) * sizeof(float), stream));
      else
        gemm(handle, ta, tb, r.m, r.n, r.k, alpha, a, b, beta, y, types_);
    }
  }
  if (r.steps_done < node.epilogue.size()) {
    std::vector<ChainStep> steps;
    for (size_t s = r.steps_done; s < node.epilogue.size(); ++s)
      steps.push_back(ChainStep{unary_op(node.epilogue[s]), node.epilogue[s].alpha, node.epilogue[s].beta});
    unary_chain(steps, y, y, count, stream);
  }
}

namespace {

// cuBLASLt with fused epilogues, or cublasGemmEx (gemm_engine.hpp).
void gemm_node(CudaOpContext& c) { c.gemm.run(c); }

}  // namespace

void register_gemm_cuda_kernels(CudaKernelRegistry& r) {
  r.add({"", "Gemm", gemm_node});
  r.add({"", "MatMul", gemm_node});
}

}  // namespace mgi::cuda
