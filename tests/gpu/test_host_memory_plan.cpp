// The activation arena planner (memory_plan.hpp): buffers alive at the same
// time never overlap, and memory is reused along a chain.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "error.hpp"
#include "memory_plan.hpp"

namespace mgi::cuda {
namespace {

// Live ranges [first write step (or -1), last read step (or end if pinned)].
void expect_no_overlap(const std::vector<size_t>& bytes, const std::vector<PlanStep>& steps,
                       const std::vector<bool>& pinned, const ArenaPlan& plan) {
  const long end = static_cast<long>(steps.size());
  std::vector<long> from(bytes.size(), -1), to(bytes.size(), -1);
  for (size_t s = 0; s < steps.size(); ++s) {
    for (int b : steps[s].writes) from[b] = to[b] = static_cast<long>(s);
  }
  for (size_t s = 0; s < steps.size(); ++s)
    for (int b : steps[s].reads) to[b] = std::max(to[b], static_cast<long>(s));
  for (size_t b = 0; b < bytes.size(); ++b)
    if (pinned[b]) to[b] = end;
  for (size_t a = 0; a < bytes.size(); ++a) {
    EXPECT_LE(plan.offset[a] + bytes[a], plan.bytes) << "buffer " << a << " past the arena";
    EXPECT_EQ(plan.offset[a] % 256, 0u) << "buffer " << a << " misaligned";
    for (size_t b = a + 1; b < bytes.size(); ++b) {
      if (bytes[a] == 0 || bytes[b] == 0) continue;
      const bool live_together = from[a] <= to[b] && from[b] <= to[a];
      const bool overlap = plan.offset[a] < plan.offset[b] + bytes[b] && plan.offset[b] < plan.offset[a] + bytes[a];
      EXPECT_FALSE(live_together && overlap)
          << "buffers " << a << " [" << from[a] << "," << to[a] << "] and " << b << " [" << from[b] << "," << to[b]
          << "] overlap at offsets " << plan.offset[a] << "+" << bytes[a] << " / " << plan.offset[b] << "+" << bytes[b];
    }
  }
}

TEST(MemoryPlan, ChainReusesMemory) {
  // in -> b1 -> b2 -> b3 -> out: at most two activations live at a time.
  const std::vector<size_t> bytes = {1000, 4000, 4000, 4000, 40};
  std::vector<PlanStep> steps = {{{0}, {1}}, {{1}, {2}}, {{2}, {3}}, {{3}, {4}}};
  const std::vector<bool> pinned = {true, false, false, false, true};
  const ArenaPlan plan = plan_arena(bytes, steps, pinned);
  expect_no_overlap(bytes, steps, pinned, plan);
  EXPECT_LE(plan.bytes, 1024u + 2 * 4096u + 256u);
}

TEST(MemoryPlan, WritesNeverOverlapReadsOfTheSameStep) {
  const std::vector<size_t> bytes = {512, 512, 512};
  std::vector<PlanStep> steps = {{{0}, {1}}, {{1}, {2}}};
  const std::vector<bool> pinned = {false, false, true};
  const ArenaPlan plan = plan_arena(bytes, steps, pinned);
  expect_no_overlap(bytes, steps, pinned, plan);
  EXPECT_NE(plan.offset[1], plan.offset[2]);
}

TEST(MemoryPlan, RandomGraphs) {
  std::mt19937 gen(12345);
  for (int trial = 0; trial < 200; ++trial) {
    const int inputs = 1 + static_cast<int>(gen() % 3);
    const int nodes = 1 + static_cast<int>(gen() % 30);
    std::vector<size_t> bytes;
    std::vector<bool> pinned;
    for (int k = 0; k < inputs; ++k) {
      bytes.push_back(gen() % 5000);
      pinned.push_back(true);
    }
    std::vector<PlanStep> steps;
    for (int n = 0; n < nodes; ++n) {
      PlanStep st;
      const int reads = 1 + static_cast<int>(gen() % 3);
      for (int r = 0; r < reads; ++r) st.reads.push_back(static_cast<int>(gen() % bytes.size()));
      if (gen() % 5 != 0) {  // some steps write nothing (aliases)
        st.writes.push_back(static_cast<int>(bytes.size()));
        bytes.push_back(gen() % 3 == 0 ? 0 : gen() % 20000);
        pinned.push_back(gen() % 6 == 0);
      }
      steps.push_back(st);
    }
    const ArenaPlan plan = plan_arena(bytes, steps, pinned);
    expect_no_overlap(bytes, steps, pinned, plan);
    if (HasFailure()) {
      ADD_FAILURE() << "trial " << trial;
      return;
    }
  }
}

TEST(MemoryPlan, RejectsInconsistentSteps) {
  EXPECT_THROW(plan_arena({8}, {{{1}, {}}}, {false}), Error);      // unknown buffer
  EXPECT_THROW(plan_arena({8, 8}, {{{}, {1}}, {{}, {1}}}, {false, false}), Error);  // written twice
}

}  // namespace
}  // namespace mgi::cuda
