#include <gtest/gtest.h>

#include "cpu_threads.hpp"

namespace mgi {
namespace {

TEST(CpuThreads, AutomaticUnboundSplitsTheNodeBetweenItsRanks) {
  EXPECT_EQ(cpu_threads(0, 64, 64, 8).threads, 8);
  EXPECT_EQ(cpu_threads(0, 64, 64, 128).threads, 1);
  EXPECT_TRUE(cpu_threads(0, 64, 64, 8).warning.empty());
  EXPECT_EQ(cpu_threads(0, 0, 16, 4).threads, 4);  // mask unknown: as unbound
}

TEST(CpuThreads, AutomaticBoundUsesTheMask) {
  EXPECT_EQ(cpu_threads(0, 1, 2, 1).threads, 1);  // mpirun -np 1 binds to a core
  EXPECT_EQ(cpu_threads(0, 6, 48, 8).threads, 6);  // srun --cpus-per-task=6
  EXPECT_TRUE(cpu_threads(0, 1, 2, 1).warning.empty());
}

TEST(CpuThreads, ExplicitThreadsBeyondTheMaskWarnWithTheFix) {
  const CpuThreads t = cpu_threads(2, 1, 2, 1);
  EXPECT_EQ(t.threads, 2);
  EXPECT_NE(t.warning.find("runtime.threads is 2 but this rank may run on 1 CPU "), std::string::npos) << t.warning;
  EXPECT_NE(t.warning.find("--map-by slot:PE=2"), std::string::npos) << t.warning;
  EXPECT_NE(t.warning.find("--cpus-per-task=2"), std::string::npos) << t.warning;
  EXPECT_TRUE(cpu_threads(4, 4, 64, 16).warning.empty());
  EXPECT_TRUE(cpu_threads(4, 0, 64, 16).warning.empty());  // unknown mask: nothing to say
}

TEST(CpuThreads, AffinityCountIsPositiveHere) { EXPECT_GE(affinity_cpu_count(), 1); }

}  // namespace
}  // namespace mgi
