#include "batch_size.hpp"

#include <algorithm>

#include "run_report.hpp"

namespace mgi {

namespace {
constexpr int64_t kMiB = int64_t(1) << 20;
constexpr int64_t kGiB = int64_t(1) << 30;
constexpr int64_t kGpuReserve = 512 * kMiB;  // CUDA context growth, cuBLAS(Lt) workspaces, fragmentation
constexpr int64_t kHostBudget = kGiB;        // a CPU batch gains nothing from more
constexpr int64_t kPipelineFloor = 1024;     // below this, per-batch overheads show
constexpr int64_t kPipelineBatches = 4;      // batches per slice wanted for overlap
}  // namespace

AutoBatch auto_batch(const AutoBatchInput& in) {
  AutoBatch out;
  const int64_t sharing = std::max(1, in.sharing);
  const int64_t free = std::max<int64_t>(0, in.free_bytes);
  if (in.device) {
    out.budget_bytes = static_cast<int64_t>(static_cast<double>(free / sharing) * 0.9) - kGpuReserve -
                       std::max<int64_t>(0, in.fixed_bytes);
  } else {
    out.budget_bytes = std::min({kHostBudget, std::max<int64_t>(0, in.total_bytes) / 8 / sharing, free / 2 / sharing});
  }
  out.budget_bytes = std::max<int64_t>(0, out.budget_bytes);
  const int64_t row = std::max<int64_t>(1, in.row_bytes);
  int64_t n = out.budget_bytes / row;
  if (n >= 64) n = n / 64 * 64;  // whole GEMM tiles
  out.limit = "memory";
  if (in.host_budget_bytes > 0 && in.host_row_bytes > 0) {
    int64_t h = in.host_budget_bytes / in.host_row_bytes;
    if (h >= 64) h = h / 64 * 64;
    if (h < n) n = h, out.limit = "host memory";
  }
  if (n > in.cap) n = in.cap, out.limit = "cap";
  const int64_t quarter = std::max(kPipelineFloor, (in.rows + kPipelineBatches - 1) / kPipelineBatches);
  if (n > quarter) n = quarter, out.limit = "pipeline";
  if (in.rows > 0 && n > in.rows) n = in.rows, out.limit = "rows";
  if (n < 1) n = 1;  // prepare() backs off or says it does not fit
  out.rows = n;
  return out;
}

std::string auto_batch_note(const AutoBatchInput& in, const AutoBatch& out) {
  const int64_t use = out.rows * std::max<int64_t>(1, in.row_bytes);
  std::string s = "auto: " + human_bytes(use) + " at " + human_bytes(in.row_bytes) + "/row; " +
                  (in.device ? "GPU " : "host ") + human_bytes(in.free_bytes) + " of " + human_bytes(in.total_bytes) +
                  " free";
  if (in.sharing > 1) s += " (/" + std::to_string(in.sharing) + " ranks)";
  return s + "; bound: " + out.limit;
}

}  // namespace mgi
