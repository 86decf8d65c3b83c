// Pipeline stages: the micro-batch message layout (mpi/pipeline_link.hpp) and
// the summary's per-stage times and bubble (run_report.hpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "backend.hpp"
#include "pipeline_link.hpp"
#include "run_report.hpp"

namespace mgi {

namespace {
pipe::LinkValues two_values() {
  pipe::LinkValues link;
  link.types = {DType::f32, DType::i64};
  link.rows = {{3, 5}, {7}};
  return link;
}
}  // namespace

TEST(PipelineLink, DataMessageLayout) {
  const pipe::LinkValues link = two_values();
  const int64_t batch = 9;
  const size_t cap = link.capacity(batch);
  // Header, then each value at a 64-byte aligned offset, room for the largest batch.
  const size_t header = pipe::header_bytes(2);
  EXPECT_EQ(header % 64, 0u);
  EXPECT_GE(cap, header + pipe::align_up(9 * 15 * 4) + pipe::align_up(9 * 7 * 8));
  std::vector<uint64_t> storage(cap / 8 + 1);
  pipe::Message m(storage.data(), link);
  // A short ragged-style batch: 4 rows, the first value's dims below the prepared ones.
  m.set_data(42, 4, true, {{4, 2, 5}, {4, 7}});
  EXPECT_EQ(m.kind(), pipe::kData);
  EXPECT_EQ(m.id(), 42);
  EXPECT_EQ(m.rows(), 4);
  EXPECT_TRUE(m.shaped());
  EXPECT_EQ(m.shape(0), (Shape{4, 2, 5}));
  EXPECT_EQ(m.shape(1), (Shape{4, 7}));
  EXPECT_EQ(m.value_bytes(0), 4u * 10 * 4);
  EXPECT_EQ(m.value_bytes(1), 4u * 7 * 8);
  EXPECT_EQ(m.offset(0), header);
  EXPECT_EQ(m.offset(1), header + pipe::align_up(160));
  EXPECT_EQ(m.offset(1) % 64, 0u);
  EXPECT_EQ(m.size(), m.offset(1) + pipe::align_up(224));
  EXPECT_LE(m.size(), cap);
  // The values written through value() are read back by a reader of the same buffer.
  std::vector<int64_t> ids(28);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i * 1000003);
  std::memcpy(m.value(1), ids.data(), m.value_bytes(1));
  const pipe::Message r(storage.data(), link);
  std::vector<int64_t> back(28);
  std::memcpy(back.data(), r.value(1), r.value_bytes(1));
  EXPECT_EQ(back, ids);
}

TEST(PipelineLink, ErrorAndStopMessages) {
  const pipe::LinkValues link = two_values();
  std::vector<uint64_t> storage(link.capacity(1) / 8 + 1);
  pipe::Message m(storage.data(), link);
  const std::string long_text(5000, 'x');  // cut to kErrorText, which always fits
  m.set_error(7, 3, "stage 2 of 2 [rank 1 on n1]: bad " + long_text);
  EXPECT_EQ(m.kind(), pipe::kError);
  EXPECT_EQ(m.id(), 7);
  EXPECT_EQ(m.exit_code(), 3);
  EXPECT_EQ(m.text().size(), pipe::kErrorText);
  EXPECT_EQ(m.text().rfind("stage 2 of 2 [rank 1 on n1]: bad", 0), 0u);
  EXPECT_LE(m.size(), link.capacity(1));
  m.set_stop(75);
  EXPECT_EQ(m.kind(), pipe::kStop);
  EXPECT_EQ(m.exit_code(), 75);
  EXPECT_EQ(m.size(), pipe::header_bytes(2));
}

TEST(PipelineLink, SummaryGivesStageTimesAndBubble) {
  // Two replicas of two stages: ranks 0, 2 are stage 0, ranks 1, 3 stage 1.
  std::vector<RankStats> stats(4);
  std::vector<RankInfo> ranks(4);
  const double busy[4] = {3, 2, 3, 2}, idle[4] = {1, 2, 1, 2};
  for (int r = 0; r < 4; ++r) {
    stats[r].stage = r % 2;
    stats[r].stage_busy_s = busy[r];
    stats[r].stage_idle_s = idle[r];
    stats[r].rows = r % 2 == 0 ? 50 : 0;
    ranks[r].rank = r;
    ranks[r].host = "n1";
    ranks[r].stage = r % 2;
    ranks[r].weight_bytes = r % 2 == 0 ? 3 << 20 : 1 << 20;
  }
  const PipelineTimes t = pipeline_times(stats);
  ASSERT_EQ(t.busy_s.size(), 2u);
  EXPECT_DOUBLE_EQ(t.busy_s[0], 6);
  EXPECT_DOUBLE_EQ(t.idle_s[0], 2);
  EXPECT_DOUBLE_EQ(t.busy_s[1], 4);
  EXPECT_DOUBLE_EQ(t.idle_s[1], 4);
  EXPECT_DOUBLE_EQ(t.bubble, 6.0 / 16.0);
  const std::string s = format_summary(ranks, stats, 1.0, "out.h5");
  EXPECT_NE(s.find("summary: 100 rows"), std::string::npos) << s;  // stage ranks add no rows
  EXPECT_NE(s.find("pipeline stage 1 (ranks 0,2): busy 6.000 s, waiting 2.000 s; per rank 3.0 MiB weights"),
            std::string::npos) << s;
  EXPECT_NE(s.find("pipeline stage 2 (ranks 1,3)"), std::string::npos) << s;
  EXPECT_NE(s.find("pipeline bubble: 37.5% of stage time spent waiting"), std::string::npos) << s;
  // Without stages: no pipeline lines.
  for (auto& st : stats) st.stage = -1;
  EXPECT_TRUE(pipeline_times(stats).busy_s.empty());
  EXPECT_EQ(format_summary(ranks, stats, 1.0, "out.h5").find("pipeline"), std::string::npos);
}

}  // namespace mgi
