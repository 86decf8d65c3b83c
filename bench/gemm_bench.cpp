// GEMM rate of the backends against the BLAS library alone, at the same shapes.
//
// cpu (default): the CPU backend's Gemm node (y = x W^T, as a PyTorch Linear
// exports it) run through CpuBackend: fixed 64-row tiles on T OpenMP threads,
// single-threaded BLAS per tile, plus the fused bias + ReLU epilogue; against
// one cblas_sgemm call on the whole matrix with BLAS's own T threads.
// cuda (CUDA builds, --device cuda): the CUDA backend's GEMM path (GemmEngine:
// cuBLASLt with the bias/ReLU epilogue, in --precision) on device buffers,
// against cublasGemmEx alone in the same precision (bf16/fp16: operands
// already converted, so the activation conversion the backend does per call
// is part of the gap). Device time from CUDA events; no host copies.
//
//   mgi-gemm-bench [--device cpu|cuda] --m M --k K --n N [--threads T] [--repeat R]
//                  [--precision fp32|tf32|bf16|fp16] [--kernel avx512|avx2|portable]
// prints one JSON object (GFLOP/s counts 2 M N K per product; CPU: fastest of R runs,
// CUDA: median of R event-timed runs).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend.hpp"
#include "gemm_kernel.hpp"
#include "op_registry.hpp"
#include "error.hpp"
#include "graph.hpp"

#ifdef MGI_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "cuda_kernels.hpp"
#include "gemm_engine.hpp"
#endif

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace {

struct Args {
  std::string device = "cpu";
  int64_t m = 1024, k = 512, n = 256;
  int threads = 1;
  int repeat = 20;
  std::string precision = "fp32";
  std::string kernel;  // cpu: force the GEMM kernel (avx512 | avx2 | portable)
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "mgi-gemm-bench: %s\nusage: mgi-gemm-bench [--device cpu|cuda] --m M --k K --n N [--threads T] "
               "[--repeat R] [--precision fp32|tf32|bf16|fp16] [--kernel avx512|avx2|portable]\n",
               why);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + k).c_str());
    const char* v = argv[++i];
    if (k == "--device") a.device = v;
    else if (k == "--m") a.m = std::atoll(v);
    else if (k == "--k") a.k = std::atoll(v);
    else if (k == "--n") a.n = std::atoll(v);
    else if (k == "--threads") a.threads = std::atoi(v);
    else if (k == "--repeat") a.repeat = std::atoi(v);
    else if (k == "--precision") a.precision = v;
    else if (k == "--kernel") a.kernel = v;
    else usage(("unknown option " + k).c_str());
  }
  if (a.m < 1 || a.k < 1 || a.n < 1 || a.threads < 1 || a.repeat < 1) usage("sizes, threads and repeat must be >= 1");
  if (a.device != "cpu" && a.device != "cuda") usage("--device must be cpu or cuda");
  return a;
}

std::vector<float> random(int64_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(count));
  for (float& x : v) x = d(gen);
  return v;
}

// x [m, k] -> Gemm(x, W [n, k], bias [n], transB) [-> Relu]: one node once fused.
mgi::Graph linear_graph(const Args& a, bool bias_relu) {
  using namespace mgi;
  Graph g;
  g.source = "gemm-bench";
  g.opset = 17;
  auto value = [&](const std::string& name) {
    Value v;
    v.name = name;
    g.values.push_back(v);
    return static_cast<int>(g.values.size()) - 1;
  };
  auto constant = [&](const std::string& name, const Shape& s, uint32_t seed) {
    const int v = value(name);
    g.values[static_cast<size_t>(v)].is_constant = true;
    g.values[static_cast<size_t>(v)].data = mgi::Tensor::f32(s, random(shape_numel(s), seed));
    return v;
  };
  const int x = value("x");
  g.inputs = {x};
  g.input_shapes = {{-1, a.k}};
  // Value ids 0..4: x, W (the BLAS comparison reads values[1]), bias, y, relu output.
  const int w = constant("W", {a.n, a.k}, 2);
  const int b = bias_relu ? constant("b", {a.n}, 3) : -1;
  const int y = value("y");
  Node gemm = mgi::make_node("Gemm", {x, w}, {y});
  gemm.trans_b = true;
  if (bias_relu) gemm.inputs.push_back(b);
  g.nodes.push_back(gemm);
  if (bias_relu) {
    Node relu = mgi::make_node("Relu", {gemm.outputs[0]}, {value("r")});
    g.nodes.push_back(relu);
  }
  g.outputs = {g.nodes.back().outputs[0]};
  return g;
}

// Fastest of `repeat` runs after a warm-up: on a machine shared with other jobs
// the fastest run is the one least disturbed (the median measures the load).
template <class F>
double best_seconds(int repeat, F f) {
  f();  // warm-up: page faults, BLAS buffers, thread pools
  double best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

int run_cpu(const Args& a) {
  if (!a.kernel.empty() && !mgi::cpu::set_gemm_kernel(a.kernel)) {
    std::fprintf(stderr, "mgi-gemm-bench: this CPU cannot run the %s kernel\n", a.kernel.c_str());
    return 3;
  }
  const double flop = 2.0 * double(a.m) * double(a.n) * double(a.k);
  const std::vector<float> x = random(a.m * a.k, 1);
  std::vector<float> y(static_cast<size_t>(a.m * a.n));

  // The backend first: OpenBLAS's own threads keep spinning for a while after
  // a threaded call and would take the cores from the backend's threads.
  auto backend_s = [&](bool fused) {
    const mgi::Graph g = linear_graph(a, fused);
    auto be = mgi::make_cpu_backend(a.threads);
    be->prepare(g, {{a.k}}, a.m);
    return best_seconds(a.repeat, [&] { be->run(a.m, {x.data()}, {y.data()}); });
  };
  const double gemm_s = backend_s(false), fused_s = backend_s(true);

  // BLAS alone: one call on the whole matrix with T BLAS threads.
  const mgi::Graph plain = linear_graph(a, false);
  const float* w = plain.values[1].data.data<float>();
  if (openblas_set_num_threads) openblas_set_num_threads(a.threads);
  const double blas_s = best_seconds(a.repeat, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(a.m), static_cast<int>(a.n),
                static_cast<int>(a.k), 1.0f, x.data(), static_cast<int>(a.k), w, static_cast<int>(a.k), 0.0f,
                y.data(), static_cast<int>(a.n));
  });
  std::printf(
      "{\"device\": \"cpu\", \"kernel\": \"%s\", \"m\": %lld, \"k\": %lld, \"n\": %lld, \"threads\": %d, \"repeat\": %d, "
      "\"blas_gflops\": %.3f, \"backend_gflops\": %.3f, \"backend_fused_gflops\": %.3f, "
      "\"blas_s\": %.6g, \"backend_s\": %.6g, \"backend_fused_s\": %.6g}\n",
      mgi::cpu::gemm_kernel_name(), static_cast<long long>(a.m), static_cast<long long>(a.k),
      static_cast<long long>(a.n), a.threads, a.repeat, flop / blas_s * 1e-9, flop / gemm_s * 1e-9,
      flop / fused_s * 1e-9, blas_s, gemm_s, fused_s);
  return 0;
}

#ifdef MGI_WITH_CUDA
#define CK(call) mgi::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define CKB(call) mgi::cuda::check_cublas((call), #call, __FILE__, __LINE__)

struct Dev {
  void* p = nullptr;
  explicit Dev(size_t bytes) { CK(cudaMalloc(&p, bytes)); }
  ~Dev() { (void)cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  float* f() const { return static_cast<float*>(p); }
};

int run_cuda(const Args& a) {
  using namespace mgi;
  if (cuda_device_count() == 0) {
    std::fprintf(stderr, "mgi-gemm-bench: no CUDA device\n");
    return 3;
  }
  const Precision prec = parse_precision(a.precision);
  const cuda::GemmTypes types = cuda::gemm_types(prec);
  const double flop = 2.0 * double(a.m) * double(a.n) * double(a.k);
  CK(cudaSetDevice(0));
  cudaStream_t stream = nullptr;
  CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cublasHandle_t handle = nullptr;
  CKB(cublasCreate(&handle));
  CKB(cublasSetStream(handle, stream));

  const Graph g = linear_graph(a, true);  // Gemm + bias + Relu, fused below
  Graph fused = g;
  fused.nodes[0].epilogue = {unary_step(g.nodes[1])};
  fused.nodes[0].outputs = g.nodes[1].outputs;
  fused.nodes.pop_back();
  // Device copies of x, W, bias and y (value ids 0..3 of linear_graph), fp32.
  std::vector<Shape> shapes = {{a.m, a.k}, {a.n, a.k}, {a.n}, {a.m, a.n}, {a.m, a.n}};
  std::vector<std::unique_ptr<Dev>> buf;
  for (size_t v = 0; v < shapes.size(); ++v) {
    buf.push_back(std::make_unique<Dev>(static_cast<size_t>(shape_numel(shapes[v])) * sizeof(float)));
    const Tensor& t = g.values[v].data;
    const std::vector<float> host = g.values[v].is_constant ? std::vector<float>(t.data<float>(), t.data<float>() + t.numel())
                                                            : random(shape_numel(shapes[v]), 10 + static_cast<uint32_t>(v));
    CK(cudaMemcpy(buf[v]->p, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
  }
  const cuda::GemmEngine::ValuePtr ptr = [&](int v) { return buf[static_cast<size_t>(v)]->f(); };
  cuda::GemmEngine engine(prec);
  engine.prepare(fused, shapes, ptr, stream);

  // cuBLAS alone, operands already in the compute type.
  Dev xa(static_cast<size_t>(a.m * a.k) * types.ab_bytes()), wa(static_cast<size_t>(a.n * a.k) * types.ab_bytes());
  if (types.ab == CUDA_R_32F) {
    CK(cudaMemcpyAsync(xa.p, buf[0]->p, static_cast<size_t>(a.m * a.k) * 4, cudaMemcpyDeviceToDevice, stream));
    CK(cudaMemcpyAsync(wa.p, buf[1]->p, static_cast<size_t>(a.n * a.k) * 4, cudaMemcpyDeviceToDevice, stream));
  } else {
    cuda::convert_f32(buf[0]->f(), xa.p, types.ab, a.m * a.k, stream);
    cuda::convert_f32(buf[1]->f(), wa.p, types.ab, a.n * a.k, stream);
  }
  auto time_events = [&](auto f) {
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    f();  // warm-up (heuristics, plan cache)
    std::vector<float> ms;
    for (int r = 0; r < a.repeat; ++r) {
      CK(cudaEventRecord(e0, stream));
      f();
      CK(cudaEventRecord(e1, stream));
      CK(cudaEventSynchronize(e1));
      float t = 0;
      CK(cudaEventElapsedTime(&t, e0, e1));
      ms.push_back(t);
    }
    (void)cudaEventDestroy(e0);
    (void)cudaEventDestroy(e1);
    std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
    return ms[ms.size() / 2] * 1e-3;
  };
  const float one = 1.0f, zero = 0.0f;
  const double cublas_s = time_events([&] {
    CKB(cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(a.n), static_cast<int>(a.m),
                     static_cast<int>(a.k), &one, wa.p, types.ab, static_cast<int>(a.k), xa.p, types.ab,
                     static_cast<int>(a.k), &zero, buf[3]->p, CUDA_R_32F, static_cast<int>(a.n), types.compute,
                     CUBLAS_GEMM_DEFAULT));
  });
  std::vector<Shape> run_shapes = shapes;
  cuda::CudaOpContext ctx{fused.nodes[0], stream, handle, {}, {}, run_shapes, engine, nullptr, 0};
  for (int v : fused.nodes[0].inputs)
    ctx.in.push_back({DType::f32, &run_shapes[static_cast<size_t>(v)], buf[static_cast<size_t>(v)]->p, nullptr});
  for (int v : fused.nodes[0].outputs)
    ctx.out.push_back({DType::f32, &run_shapes[static_cast<size_t>(v)], buf[static_cast<size_t>(v)]->p, nullptr});
  const double engine_s = time_events([&] { engine.run(ctx); });
  std::printf(
      "{\"device\": \"cuda\", \"precision\": \"%s\", \"m\": %lld, \"k\": %lld, \"n\": %lld, \"repeat\": %d, "
      "\"cublas_tflops\": %.3f, \"backend_fused_tflops\": %.3f, \"cublas_s\": %.6g, \"backend_fused_s\": %.6g}\n",
      a.precision.c_str(), static_cast<long long>(a.m), static_cast<long long>(a.k), static_cast<long long>(a.n),
      a.repeat, flop / cublas_s * 1e-12, flop / engine_s * 1e-12, cublas_s, engine_s);
  (void)cublasDestroy(handle);
  (void)cudaStreamDestroy(stream);
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    if (a.device == "cpu") return run_cpu(a);
#ifdef MGI_WITH_CUDA
    return run_cuda(a);
#else
    std::fprintf(stderr, "mgi-gemm-bench: built without CUDA\n");
    return 3;
#endif
  } catch (const mgi::Error& e) {
    std::fprintf(stderr, "mgi-gemm-bench: %s\n", e.what());
    return e.exit_code();
  }
}
