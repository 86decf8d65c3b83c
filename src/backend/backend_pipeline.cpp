// Backend defaults for the batch pipeline (synchronous submit/collect, plain
// host buffers, host memory queries) and prepare() with out-of-memory back-off.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <new>
#include <sstream>

#include "backend.hpp"
#include "error.hpp"
#include "format.hpp"

namespace mgi {

namespace {

// A number from a one-line file ("max" and unreadable files give -1).
int64_t read_limit(const char* path) {
  std::ifstream f(path);
  std::string word;
  if (!(f >> word) || word == "max") return -1;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(word.c_str(), &end, 10);
  return end && *end == 0 && v < (1ull << 62) ? static_cast<int64_t>(v) : -1;
}

// MemAvailable from /proc/meminfo, in bytes (-1 when not there).
int64_t mem_available() {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream ss(line.substr(13));
    long long kib = -1;
    ss >> kib;
    return kib >= 0 ? kib * 1024 : -1;
  }
  return -1;
}

}  // namespace

void Backend::submit(int64_t rows, const std::vector<const void*>& inputs, const std::vector<void*>& outputs) {
  MGI_ASSERT(outstanding_ < pipeline_depth(), "submit() with " + std::to_string(outstanding_) +
                                                  " batch(es) outstanding; pipeline depth " +
                                                  std::to_string(pipeline_depth()));
  run(rows, inputs, outputs);
  ++outstanding_;
}

void Backend::submit_shaped(const std::vector<Shape>&, const std::vector<const void*>&, const std::vector<void*>&) {
  throw RuntimeError(describe() + ": submit_shaped() is not pipelined (shaped_pipeline_depth() is 1; use run_shaped())");
}

void Backend::collect() {
  MGI_ASSERT(outstanding_ > 0, "collect() without an outstanding batch");
  --outstanding_;
}

void Backend::drain() noexcept { outstanding_ = 0; }

HostBuffer Backend::host_buffer(size_t bytes) {
  if (bytes == 0) return {};
  const size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw OutOfMemory("cannot allocate " + human_bytes(static_cast<int64_t>(bytes)) + " of host memory for batch buffers");
  return HostBuffer(p, bytes, std::free);
}

MemoryInfo Backend::memory_info() const { return host_memory_info(); }

MemoryInfo host_memory_info() {
  MemoryInfo m;
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  m.total_bytes = pages > 0 && page > 0 ? int64_t(pages) * page : 0;
  m.free_bytes = mem_available();
  if (m.free_bytes < 0) {
    const long avail = sysconf(_SC_AVPHYS_PAGES);
    m.free_bytes = avail > 0 && page > 0 ? int64_t(avail) * page : m.total_bytes / 2;
  }
  // Under a memory cgroup (Slurm --mem, containers) the limit is what counts.
  int64_t limit = read_limit("/sys/fs/cgroup/memory.max");
  int64_t used = read_limit("/sys/fs/cgroup/memory.current");
  if (limit < 0) {
    limit = read_limit("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    used = read_limit("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  }
  if (limit > 0 && limit < m.total_bytes) {
    m.total_bytes = limit;
    const int64_t left = used >= 0 && used < limit ? limit - used : 0;
    if (left < m.free_bytes) m.free_bytes = left;
  }
  return m;
}

int64_t Backend::planned_bytes(int64_t) const { return -1; }

int64_t prepare_batch(Backend& backend, const Graph& graph, const std::vector<Shape>& input_rows, int64_t batch,
                      bool back_off) {
  const int64_t asked = batch;
  for (;;) {
    std::string why;
    try {
      backend.prepare(graph, input_rows, batch);
      if (batch != asked)
        std::fprintf(stderr, "mgi-mpi: warning: out of memory preparing batches of %lld rows on %s; using %lld\n",
                     static_cast<long long>(asked), backend.describe().c_str(), static_cast<long long>(batch));
      return batch;
    } catch (const OutOfMemory& e) {
      why = e.what();
    } catch (const std::bad_alloc&) {
      why = "std::bad_alloc";
    }
    if (!back_off)
      throw RuntimeError("out of memory preparing batches of " + std::to_string(batch) + " rows on " +
                         backend.describe() + ": " + why + " (runtime.batch_size: auto picks a size that fits)");
    if (batch == 1)
      throw RuntimeError("out of memory even for batches of 1 row (batch_size: auto backed off from " +
                         std::to_string(asked) + ") on " + backend.describe() + ": " + why);
    batch = (batch + 1) / 2;
  }
}

Backend::StageTimes Backend::time_stages(int64_t rows, const std::vector<const void*>& inputs,
                                         const std::vector<void*>& outputs, int repeats) {
  StageTimes best;
  best.compute_s = std::numeric_limits<double>::infinity();
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run(rows, inputs, outputs);
    const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    best.compute_s = std::min(best.compute_s, dt.count());
  }
  return best;
}

}  // namespace mgi
