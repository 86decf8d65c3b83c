// The plan's device note: why runtime.device: auto runs on the CPU where the
// CUDA backend could not be loaded, one line per reason, naming the hosts.
#include <gtest/gtest.h>

#include "run_report.hpp"

namespace mgi {

namespace {
RankInfo rank(int r, const std::string& host, const std::string& note) {
  RankInfo i;
  i.rank = r;
  i.host = host;
  i.device = note.empty() ? "cuda:0 GPU" : "cpu (GEMM kernel avx2, 1 thread, fp32)";
  i.note = note;
  return i;
}
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST(PlanNotes, OneLinePerReasonWithItsHosts) {
  const std::string a = "cuda not loaded (libcudart.so.13: cannot open shared object file: No such file or directory)";
  const std::string b = "cuda not loaded (libcublasLt.so.13: cannot open shared object file: No such file or directory)";
  PlanSummary p;
  p.ranks = {rank(0, "gpu1", ""), rank(1, "cpu1", a), rank(2, "cpu1", a), rank(3, "cpu2", a), rank(4, "cpu3", b)};
  const std::string s = format_plan(p);
  EXPECT_EQ(count(s, "\n  device  "), 2u) << s;
  EXPECT_NE(s.find("  device  " + a + " on hosts cpu1, cpu2: running on the CPU\n"), std::string::npos) << s;
  EXPECT_NE(s.find("  device  " + b + " on host cpu3: running on the CPU\n"), std::string::npos) << s;
}

TEST(PlanNotes, NoneWithoutNotes) {
  PlanSummary p;
  p.ranks = {rank(0, "gpu1", ""), rank(1, "gpu1", "")};
  EXPECT_EQ(format_plan(p).find("\n  device  "), std::string::npos);
}

TEST(PlanNotes, ManyHostsAreCut) {
  PlanSummary p;
  for (int r = 0; r < 7; ++r) p.ranks.push_back(rank(r, "n" + std::to_string(r), "cuda not loaded (x)"));
  EXPECT_NE(format_plan(p).find("on hosts n0, n1, n2, n3 and 3 more: running on the CPU"), std::string::npos);
}

}  // namespace mgi
