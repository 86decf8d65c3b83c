#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "journal.hpp"

namespace mgi {

namespace {
std::string temp_path(const char* tag) {
  return testing::TempDir() + "mgi-journal-" + tag + "-" + std::to_string(getpid()) + ".bin";
}

std::vector<float> random_rows(std::mt19937& rng, int64_t rows, int64_t floats) {
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(rows * floats));
  for (auto& x : v) x = d(rng);
  return v;
}

int64_t file_size(const std::string& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  return f ? static_cast<int64_t>(f.tellg()) : -1;
}
}  // namespace

TEST(Journal, RangesMergeAndComplement) {
  auto m = merge_ranges({{5, 7}, {0, 2}, {2, 3}, {6, 9}});
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0], (RowRange{0, 3}));
  EXPECT_EQ(m[1], (RowRange{5, 9}));
  auto miss = missing_ranges(m, 12);
  ASSERT_EQ(miss.size(), 2u);
  EXPECT_EQ(miss[0], (RowRange{3, 5}));
  EXPECT_EQ(miss[1], (RowRange{9, 12}));
  EXPECT_EQ(missing_ranges({}, 4).size(), 1u);
  EXPECT_TRUE(missing_ranges({{0, 4}}, 4).empty());
  EXPECT_TRUE(missing_ranges({}, 0).empty());
}

TEST(Journal, WriteScanReplayRoundTrip) {
  std::mt19937 rng(std::random_device{}());
  const std::string path = temp_path("rt");
  const std::vector<int64_t> bytes{3 * 4, 5 * 4};  // float32 rows of 3 and 5
  auto a0 = random_rows(rng, 4, 3), a1 = random_rows(rng, 4, 5);
  auto b0 = random_rows(rng, 2, 3), b1 = random_rows(rng, 2, 5);
  {
    JournalWriter w(path, "fingerprint-1", bytes);
    w.append({10, 14}, {a0.data(), a1.data()});
    w.append({0, 2}, {b0.data(), b1.data()});
    w.sync();
  }
  JournalScan s = scan_journal(path, bytes);
  EXPECT_TRUE(s.exists);
  EXPECT_TRUE(s.header_ok);
  EXPECT_EQ(s.fingerprint, "fingerprint-1");
  EXPECT_EQ(s.records, 2);
  EXPECT_EQ(s.dropped_bytes, 0);
  ASSERT_EQ(s.done.size(), 2u);
  EXPECT_EQ(s.done[0], (RowRange{0, 2}));
  int seen = 0;
  replay_journal(path, bytes, [&](const RowRange& r, const std::vector<const void*>& d) {
    const auto& e0 = r.begin == 10 ? a0 : b0;
    const auto& e1 = r.begin == 10 ? a1 : b1;
    EXPECT_EQ(0, std::memcmp(d[0], e0.data(), e0.size() * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(d[1], e1.data(), e1.size() * sizeof(float)));
    ++seen;
  });
  EXPECT_EQ(seen, 2);
  std::remove(path.c_str());
}

TEST(Journal, TornTailIsDroppedAndAppendResumes) {
  std::mt19937 rng(std::random_device{}());
  const std::string path = temp_path("torn");
  const std::vector<int64_t> row_bytes{4 * 4};
  auto a = random_rows(rng, 8, 4), b = random_rows(rng, 8, 4);
  {
    JournalWriter w(path, "fp", row_bytes);
    w.append({0, 8}, {a.data()});
    w.append({8, 16}, {b.data()});
  }
  const int64_t full = file_size(path);
  // Every cut inside the second record leaves exactly the first one.
  for (int64_t cut = full - 1; cut > full - 40 - 8 * 4 * 4; cut -= 7) {
    ASSERT_EQ(0, truncate(path.c_str(), cut));
    JournalScan s = scan_journal(path, row_bytes);
    ASSERT_EQ(s.records, 1) << "cut at " << cut;
    ASSERT_EQ(s.done.size(), 1u);
    EXPECT_EQ(s.done[0], (RowRange{0, 8}));
    EXPECT_EQ(s.valid_bytes + s.dropped_bytes, cut);
  }
  // Appending after the intact prefix works and the result scans clean.
  JournalScan s = scan_journal(path, row_bytes);
  {
    JournalWriter w(path, "fp", row_bytes, s.valid_bytes);
    w.append({8, 16}, {b.data()});
    w.sync();
  }
  s = scan_journal(path, row_bytes);
  EXPECT_EQ(s.records, 2);
  EXPECT_EQ(s.dropped_bytes, 0);
  EXPECT_EQ(missing_ranges(s.done, 16).size(), 0u);
  std::remove(path.c_str());
}

TEST(Journal, FlippedPayloadByteIsDetected) {
  std::mt19937 rng(std::random_device{}());
  const std::string path = temp_path("flip");
  const std::vector<int64_t> row_bytes{2 * 4};
  auto a = random_rows(rng, 5, 2);
  {
    JournalWriter w(path, "fp", row_bytes);
    w.append({0, 5}, {a.data()});
  }
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(file_size(path) - 3);
  f.put(static_cast<char>(0x5a));
  f.close();
  JournalScan s = scan_journal(path, row_bytes);
  EXPECT_EQ(s.records, 0);
  EXPECT_GT(s.dropped_bytes, 0);
  std::remove(path.c_str());
}

TEST(Journal, NotAJournalAndMissingFile) {
  const std::string path = temp_path("garbage");
  {
    std::ofstream f(path);
    f << "this is not a journal at all";
  }
  JournalScan s = scan_journal(path, {1});
  EXPECT_TRUE(s.exists);
  EXPECT_FALSE(s.header_ok);
  std::remove(path.c_str());
  s = scan_journal(path, {1});
  EXPECT_FALSE(s.exists);
}

}  // namespace mgi

namespace mgi {

TEST(Journal, ReplayByRowsJoinsBlocksInRowOrder) {
  std::mt19937 rng(std::random_device{}());
  const std::string path = temp_path("byrows");
  const std::vector<int64_t> row_bytes{2 * 4, 3 * 4};
  const int64_t n = 60;
  auto o0 = random_rows(rng, n, 2), o1 = random_rows(rng, n, 3);
  // Records out of order, with a duplicate block (as a resumed run may write).
  std::vector<RowRange> order{{20, 30}, {0, 7}, {45, 60}, {7, 20}, {30, 45}, {20, 30}};
  {
    JournalWriter w(path, "fp", row_bytes);
    for (const auto& r : order) w.append(r, {o0.data() + r.begin * 2, o1.data() + r.begin * 3});
  }
  std::vector<float> got0(o0.size(), NAN), got1(o1.size(), NAN);
  int calls = 0;
  int64_t last_end = 0;
  replay_journal_by_rows(path, row_bytes, 16 * 5 * 4, [&](const RowRange& r, const std::vector<const void*>& d) {
    EXPECT_EQ(r.begin, last_end);  // row order, no overlap
    EXPECT_LE(r.rows(), 16 + 15);  // about block_bytes worth, at most one record over
    std::memcpy(got0.data() + r.begin * 2, d[0], r.rows() * 2 * sizeof(float));
    std::memcpy(got1.data() + r.begin * 3, d[1], r.rows() * 3 * sizeof(float));
    last_end = r.end;
    ++calls;
  });
  EXPECT_EQ(last_end, n);
  EXPECT_GE(calls, 3);
  EXPECT_EQ(0, std::memcmp(got0.data(), o0.data(), o0.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(got1.data(), o1.data(), o1.size() * sizeof(float)));
  std::remove(path.c_str());
}

TEST(Journal, TypedOutputsRoundTripAlignedWhateverComesBefore) {
  // A bool/uint8 output of 3 bytes per row ahead of an int64 one: the int64
  // rows start at an odd offset in the record, yet come back aligned.
  const std::string path = temp_path("typed");
  const std::vector<int64_t> row_bytes{3, 2 * 8};
  const int64_t n = 5;
  std::vector<uint8_t> flags(static_cast<size_t>(n * 3));
  std::vector<int64_t> ids(static_cast<size_t>(n * 2));
  for (size_t k = 0; k < flags.size(); ++k) flags[k] = static_cast<uint8_t>(k % 2);
  for (size_t k = 0; k < ids.size(); ++k) ids[k] = (int64_t{1} << 40) + static_cast<int64_t>(k);
  {
    JournalWriter w(path, "fp", row_bytes);
    w.append({0, 2}, {flags.data(), ids.data()});
    w.append({2, n}, {flags.data() + 2 * 3, ids.data() + 2 * 2});
  }
  int seen = 0;
  replay_journal(path, row_bytes, [&](const RowRange& r, const std::vector<const void*>& d) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(d[1]) % alignof(int64_t), 0u);
    EXPECT_EQ(0, std::memcmp(d[0], flags.data() + r.begin * 3, static_cast<size_t>(r.rows() * 3)));
    const auto* got = static_cast<const int64_t*>(d[1]);
    for (int64_t k = 0; k < r.rows() * 2; ++k) EXPECT_EQ(got[k], ids[static_cast<size_t>(r.begin * 2 + k)]);
    ++seen;
  });
  EXPECT_EQ(seen, 2);
  replay_journal_by_rows(path, row_bytes, 1 << 20, [&](const RowRange& r, const std::vector<const void*>& d) {
    EXPECT_EQ(r, (RowRange{0, n}));
    EXPECT_EQ(0, std::memcmp(d[1], ids.data(), ids.size() * sizeof(int64_t)));
  });
  std::remove(path.c_str());
}

}  // namespace mgi
