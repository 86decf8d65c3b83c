#include "memory_plan.hpp"

#include <algorithm>
#include <iterator>
#include <map>

#include "error.hpp"

namespace mgi::cuda {

namespace {

// Best-fit allocator over [0, top): free blocks kept by offset and merged with
// neighbours; a free block that reaches the top lowers the top instead.
class Arena {
 public:
  size_t alloc(size_t n) {
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second >= n && (best == free_.end() || it->second < best->second)) best = it;
    if (best != free_.end()) {
      const size_t off = best->first, size = best->second;
      free_.erase(best);
      if (size > n) free_.emplace(off + n, size - n);
      return off;
    }
    const size_t off = top_;
    top_ += n;
    peak_ = std::max(peak_, top_);
    return off;
  }

  void release(size_t off, size_t n) {
    auto it = free_.emplace(off, n).first;
    if (it != free_.begin()) {  // merge with the block before
      auto prev = std::prev(it);
      if (prev->first + prev->second == off) {
        prev->second += it->second;
        free_.erase(it);
        it = prev;
      }
    }
    auto next = std::next(it);
    if (next != free_.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it->first + it->second == top_) {
      top_ = it->first;
      free_.erase(it);
    }
  }

  size_t peak() const { return peak_; }

 private:
  std::map<size_t, size_t> free_;
  size_t top_ = 0, peak_ = 0;
};

}  // namespace

ArenaPlan plan_arena(const std::vector<size_t>& bytes, const std::vector<PlanStep>& steps,
                     const std::vector<bool>& pinned, size_t alignment) {
  const size_t nb = bytes.size();
  MGI_ASSERT(pinned.size() == nb, "plan_arena: pinned has one flag per buffer");
  MGI_ASSERT(alignment > 0, "plan_arena: alignment > 0");
  constexpr size_t kUnset = size_t(-1);
  std::vector<long> last_read(nb, -1);
  std::vector<bool> written(nb, false);
  for (size_t s = 0; s < steps.size(); ++s) {
    for (int b : steps[s].reads) {
      MGI_ASSERT(b >= 0 && size_t(b) < nb, "plan_arena: read of an unknown buffer");
      last_read[b] = long(s);
    }
    for (int b : steps[s].writes) {
      MGI_ASSERT(b >= 0 && size_t(b) < nb, "plan_arena: write of an unknown buffer");
      MGI_ASSERT(!written[b], "plan_arena: buffer written twice");
      written[b] = true;
    }
  }
  auto rounded = [&](size_t n) { return (n + alignment - 1) / alignment * alignment; };

  Arena arena;
  ArenaPlan plan;
  plan.offset.assign(nb, kUnset);
  std::vector<bool> live(nb, false);
  auto place = [&](int b) {
    if (bytes[b] == 0) {  // empty tensors own no bytes
      plan.offset[b] = 0;
      return;
    }
    plan.offset[b] = arena.alloc(rounded(bytes[b]));
    live[b] = true;
  };
  auto drop = [&](int b) {
    if (!live[b] || pinned[b]) return;
    arena.release(plan.offset[b], rounded(bytes[b]));
    live[b] = false;
  };

  for (size_t b = 0; b < nb; ++b)
    if (!written[b]) place(int(b));  // inputs of the whole graph, present from the start
  for (size_t s = 0; s < steps.size(); ++s) {
    for (int b : steps[s].writes) place(b);  // before any read is released: no overlap with reads
    for (int b : steps[s].reads)
      if (last_read[b] == long(s)) drop(b);
    for (int b : steps[s].writes)
      if (last_read[b] <= long(s)) drop(b);  // written and never read afterwards
  }
  plan.bytes = arena.peak();
  return plan;
}

}  // namespace mgi::cuda
