#include "gemm_kernel.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "unary.hpp"
#include "error.hpp"

namespace mgi::cpu {

namespace {

constexpr int64_t kBlockK = 512;    // K per pass: a kernel's B panel (64 KiB) stays in L2
constexpr int64_t kBlockRows = 480;  // rows per pass over the panels: their A block (960 KiB) in L2/L3

// One register tile: rows [0, rows) (<= MR) x columns [0, cols) (<= NR) of c.
// Written once and inlined into each instruction-set variant below, so every
// variant runs the same float operations: acc = fma(a[r][q], b[q][j], acc) for
// q in order. std::fma is exact-rounded everywhere (one instruction with FMA).
template <int MR, int NR>
inline __attribute__((always_inline)) void tile(int64_t kc, const float* a, int64_t lda, const float* bp, float* c,
                                                int64_t ldc, int rows, int cols, bool first, bool last, float alpha) {
  float acc[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) acc[r][j] = 0.0f;
  if (!first)
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < cols; ++j) acc[r][j] = c[r * ldc + j];
  const float* ap[MR];
  for (int r = 0; r < MR; ++r) ap[r] = a + (r < rows ? r : 0) * lda;  // spare rows recompute row 0, unused
  for (int64_t q = 0; q < kc; ++q) {
    const float* b = bp + q * NR;
#pragma GCC unroll 16  // accumulators stay in registers only when fully unrolled
    for (int r = 0; r < MR; ++r) {
      const float av = ap[r][q];
#pragma GCC unroll 32
      for (int j = 0; j < NR; ++j) acc[r][j] = std::fma(av, b[j], acc[r][j]);
    }
  }
  if (last && alpha != 1.0f)
    for (int r = 0; r < MR; ++r)
      for (int j = 0; j < NR; ++j) acc[r][j] *= alpha;
  if (cols == NR) {
    for (int r = 0; r < rows; ++r) std::memcpy(c + r * ldc, acc[r], sizeof acc[r]);
  } else {
    for (int r = 0; r < rows; ++r) std::memcpy(c + r * ldc, acc[r], static_cast<size_t>(cols) * sizeof(float));
  }
}

using TileFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, int, int, bool, bool, float);

struct Kernel {
  const char* name;
  int mr, mr_narrow;  // rows per tile for kPanel / kNarrowPanel columns: as many accumulators as registers
  TileFn fn, fn_narrow;
};

#define MGI_TILE_FN(fname, attr, MR, NR)                                                                       \
  attr void fname(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, int rows, \
                  int cols, bool first, bool last, float alpha) {                                            \
    tile<MR, NR>(kc, a, lda, bp, c, ldc, rows, cols, first, last, alpha);                                    \
  }

MGI_TILE_FN(tile_portable, , 4, kPanel)
MGI_TILE_FN(tile_portable_narrow, , 4, kNarrowPanel)
const Kernel kPortable{"portable", 4, 4, tile_portable, tile_portable_narrow};

#if defined(__x86_64__) && defined(__GNUC__)
// AVX-512: 8 x 2 zmm (narrow: 12 x 1) accumulators; AVX2: 3 x 4 ymm (narrow: 6 x 2).
MGI_TILE_FN(tile_avx512, __attribute__((target("arch=x86-64-v4"))), 8, kPanel)
MGI_TILE_FN(tile_avx512_narrow, __attribute__((target("arch=x86-64-v4"))), 12, kNarrowPanel)
MGI_TILE_FN(tile_avx2, __attribute__((target("arch=x86-64-v3"))), 3, kPanel)
MGI_TILE_FN(tile_avx2_narrow, __attribute__((target("arch=x86-64-v3"))), 6, kNarrowPanel)
const Kernel kAvx512{"avx512", 8, 12, tile_avx512, tile_avx512_narrow};
const Kernel kAvx2{"avx2", 3, 6, tile_avx2, tile_avx2_narrow};

bool cpu_has(const std::string& name) {
  __builtin_cpu_init();
  if (name == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return name == "portable";
}
const Kernel* by_name(const std::string& name) {
  if (name == "avx512") return &kAvx512;
  if (name == "avx2") return &kAvx2;
  if (name == "portable") return &kPortable;
  return nullptr;
}
const Kernel* best_kernel() {
  if (cpu_has("avx512")) return &kAvx512;
  if (cpu_has("avx2")) return &kAvx2;
  return &kPortable;
}
#else
bool cpu_has(const std::string& name) { return name == "portable"; }
const Kernel* by_name(const std::string& name) { return name == "portable" ? &kPortable : nullptr; }
const Kernel* best_kernel() { return &kPortable; }
#endif
#undef MGI_TILE_FN

const Kernel*& current() {
  static const Kernel* k = best_kernel();
  return k;
}

// Rows [r0, r1) x panels [p0, p1) of the product, K in blocks; the epilogue
// follows each block of rows once its last K block is done.
void run_range(const Kernel& kr, int64_t r0, int64_t r1, int64_t p0, int64_t p1, int64_t n, int64_t k, float alpha,
               const float* a, int64_t lda, const PackedB& b, float* c, int64_t ldc, const GemmEpilogue& ep) {
  const int64_t j0 = p0 * kPanel, j1 = std::min(n, p1 * kPanel);
  for (int64_t mb = r0; mb < r1; mb += kBlockRows) {
    const int64_t me = std::min(r1, mb + kBlockRows);
    for (int64_t kc0 = 0; kc0 < k; kc0 += kBlockK) {
      const int64_t kc = std::min(kBlockK, k - kc0);
      const bool first = kc0 == 0, last = kc0 + kc == k;
      for (int64_t p = p0; p < p1; ++p) {
        const bool narrow = b.width(p) == kNarrowPanel;
        const float* bp = b.panel(p) + kc0 * b.width(p);
        const int cols = static_cast<int>(std::min(kPanel, n - p * kPanel));
        const int mr = narrow ? kr.mr_narrow : kr.mr;
        const TileFn fn = narrow ? kr.fn_narrow : kr.fn;
        for (int64_t i = mb; i < me; i += mr) {
          const int rows = static_cast<int>(std::min<int64_t>(mr, me - i));
          fn(kc, a + i * lda + kc0, lda, bp, c + i * ldc + p * kPanel, ldc, rows, cols, first, last, alpha);
        }
      }
    }
    if (!ep.empty()) ep.apply(c, ldc, mb, me - mb, j0, j1 - j0);
  }
}

}  // namespace

void pack_b(const float* b, bool tb, int64_t k, int64_t n, PackedB& out) {
  out.k = k;
  out.n = n;
  const int64_t panels = out.panels();
  constexpr size_t kAlignFloats = 16;
  out.storage.assign(static_cast<size_t>(panels * k * kPanel) + kAlignFloats, 0.0f);
  const auto addr = reinterpret_cast<uintptr_t>(out.storage.data());
  out.offset = ((64 - addr % 64) % 64) / sizeof(float);
  for (int64_t p = 0; p < panels; ++p) {
    float* dst = out.storage.data() + out.offset + p * k * kPanel;
    const int64_t c0 = p * kPanel, cols = std::min(kPanel, n - c0), w = out.width(p);
    for (int64_t q = 0; q < k; ++q)
      for (int64_t j = 0; j < cols; ++j) dst[q * w + j] = tb ? b[(c0 + j) * k + q] : b[q * n + c0 + j];
  }
}

void GemmEpilogue::apply(float* c, int64_t ldc, int64_t i0, int64_t rows, int64_t j0, int64_t cols) const {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = c + (i0 + r) * ldc + j0;
    if (bias) {
      const float* brow = bias + (i0 + r) * sm + j0 * sn;
      if (beta == 1.0f && sn == 1)  // the common row-vector bias: contiguous, vectorized
        for (int64_t j = 0; j < cols; ++j) row[j] += brow[j];
      else if (beta == 1.0f)
        for (int64_t j = 0; j < cols; ++j) row[j] += brow[j * sn];
      else
        for (int64_t j = 0; j < cols; ++j) row[j] += beta * brow[j * sn];
    }
    if (steps)
      for (const UnaryStep& s : *steps) apply_unary(s, row, row, cols);
  }
}

void gemm_packed(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const PackedB& b,
                 float* c, int64_t ldc, const GemmEpilogue& ep, int threads) {
  MGI_ASSERT(b.k == k && b.n == n, "gemm_packed: packed B does not match the product");
  if (m == 0 || n == 0) return;
  if (k == 0) {  // empty sums
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    if (!ep.empty()) ep.apply(c, ldc, 0, m, 0, n);
    return;
  }
  const Kernel& kr = *current();
  const int64_t panels = b.panels();
  // Threads split the rows, or the column panels when rows are few: any split
  // gives the same bits (elements are independent).
  const double flops = 2.0 * double(m) * double(n) * double(k);
  const int t = flops < 2e6 ? 1 : std::max(1, threads);
  if (t == 1) {
    run_range(kr, 0, m, 0, panels, n, k, alpha, a, lda, b, c, ldc, ep);
    return;
  }
  const bool by_rows = m >= int64_t(t) * 24 || panels < t;
#pragma omp parallel num_threads(t)
  {
    const int64_t id = omp_get_thread_num(), nt = omp_get_num_threads();
    if (by_rows) {
      // Equal shares, cut at multiples of 24 rows (whole tiles for every kernel).
      auto cut = [&](int64_t t_id) { return t_id == nt ? m : std::min(m, (t_id * m / nt + 12) / 24 * 24); };
      const int64_t r0 = cut(id), r1 = cut(id + 1);
      if (r0 < r1) run_range(kr, r0, r1, 0, panels, n, k, alpha, a, lda, b, c, ldc, ep);
    } else {
      const int64_t chunk = (panels + nt - 1) / nt;
      const int64_t p0 = std::min(panels, id * chunk), p1 = std::min(panels, p0 + chunk);
      if (p0 < p1) run_range(kr, 0, m, p0, p1, n, k, alpha, a, lda, b, c, ldc, ep);
    }
  }
}

const char* gemm_kernel_name() { return current()->name; }

bool set_gemm_kernel(const std::string& name) {
  const Kernel* k = by_name(name);
  if (!k || !cpu_has(name)) return false;
  current() = k;
  return true;
}

}  // namespace mgi::cpu
