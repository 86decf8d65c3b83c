// Checkpoint writing rows in place: rows land in <output>.partial at their
// final place, the journal holds index records with CRCs, a resume keeps only
// the records whose bytes in the file still match, and a file whose structure
// is not the in-place layout is started over.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <tuple>
#include <vector>

#include "checkpoint.hpp"
#include "error.hpp"

namespace mgi {
namespace {

class InPlaceCheckpoint : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& p : {out_, journal_path(out_), out_ + ".lock", partial_path(out_)}) std::remove(p.c_str());
  }
  RunFingerprint fingerprint() const {
    RunFingerprint fp;
    fp.model_sha256 = "abc";
    fp.rows = 6;
    fp.outputs = {{"/ids", {2}, DType::i64}, {"/y", {1}, DType::f32}};
    fp.extra["output_rows_in"] = "file";
    return fp;
  }
  CheckpointOptions options() const {
    CheckpointOptions o;
    o.in_place = true;
    return o;
  }
  std::string out_ = testing::TempDir() + "mgi-ckpt-inplace-" + std::to_string(getpid()) + ".h5";
  std::vector<int64_t> ids_{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<float> y_{1, NAN, 3, 4, 5, 6};
};

TEST_F(InPlaceCheckpoint, WritesRowsInPlaceVerifiesThemOnResumeAndFinishes) {
  const RunFingerprint fp = fingerprint();
  EXPECT_TRUE(in_place_possible(fp.outputs, OutputOptions{}));
  EXPECT_FALSE(in_place_possible(fp.outputs, OutputOptions{"gzip", 4, 0}));
  EXPECT_FALSE(in_place_possible({{"/h", {1}, DType::f16}}, OutputOptions{}));
  {
    Checkpoint c(out_, fp, options());
    c.open();
    c.record({0, 2}, {ids_.data(), y_.data()});
    c.record({2, 4}, {ids_.data() + 4, y_.data() + 2});
    c.sync();
  }
  // Damage one byte of rows [2, 4) of /y in the file: that block is computed again.
  InPlaceLayout l;
  std::string why;
  ASSERT_TRUE(read_in_place_layout(partial_path(out_), fp.outputs, "/status", 6, l, why)) << why;
  {
    const int fd = ::open(partial_path(out_).c_str(), O_RDWR);
    const float bad = 99;
    ASSERT_EQ(pwrite(fd, &bad, 4, l.offsets[1] + 3 * 4), 4);
    close(fd);
  }
  Checkpoint resumed(out_, fp, options());
  EXPECT_EQ(resumed.done_rows(), 2);
  EXPECT_NE(resumed.describe().find("1 journaled block(s) not matching the file"), std::string::npos)
      << resumed.describe();
  resumed.open();
  resumed.record({2, 6}, {ids_.data() + 4, y_.data() + 2});
  EXPECT_EQ(resumed.finish_in_place(), 1);  // row 1 is NaN
  {
    OutputWriter w(out_, OutputWriter::Reopen{});
    w.finish();
  }
  resumed.remove_journal();
  hid_t f = H5Fopen(out_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  std::vector<int64_t> ids(12);
  std::vector<float> y(6);
  std::vector<uint8_t> status(6);
  auto read = [&](const char* name, hid_t type, void* dst) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    H5Dclose(d);
  };
  read("/ids", H5T_NATIVE_INT64, ids.data());
  read("/y", H5T_NATIVE_FLOAT, y.data());
  read("/status", H5T_NATIVE_UINT8, status.data());
  H5Fclose(f);
  EXPECT_EQ(ids, ids_);
  EXPECT_EQ(y[3], 4);
  EXPECT_TRUE(std::isnan(y[1]));
  EXPECT_EQ(status, (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
}

TEST_F(InPlaceCheckpoint, AFileNotInTheInPlaceLayoutIsStartedOver) {
  const RunFingerprint fp = fingerprint();
  {
    Checkpoint c(out_, fp, options());
    c.open();
    c.record({0, 2}, {ids_.data(), y_.data()});
    c.sync();
  }
  {  // the .partial replaced by a file of another structure
    OutputWriter w(out_, {{"/ids", {2}, DType::i64}}, 6, OutputOptions{});
  }
  Checkpoint resumed(out_, fp, options());
  EXPECT_EQ(resumed.done_rows(), 0);
  EXPECT_NE(resumed.describe().find("started over"), std::string::npos) << resumed.describe();
  resumed.open();  // a new file and journal
  InPlaceLayout l;
  std::string why;
  EXPECT_TRUE(read_in_place_layout(partial_path(out_), fp.outputs, "/status", 6, l, why)) << why;
}

// The parallel writer's half of the contract: rows written into the file by
// someone else (another rank, here plain pwrites at the layout's offsets) and
// recorded with record_written(digest) resume exactly like rows record() wrote
// (the same CRC, checked against the file's bytes), with either writer; a
// block whose bytes never reached the file is computed again.
TEST_F(InPlaceCheckpoint, RowsWrittenByAnotherRankResumeLikeRecordedRows) {
  const RunFingerprint fp = fingerprint();
  CheckpointOptions o = options();
  o.parallel_writer = true;
  {
    Checkpoint c(out_, fp, o);
    EXPECT_NE(c.describe().find("by every rank (output.writer: parallel, MPI-IO)"), std::string::npos);
    c.open();
    const InPlaceLayout l = c.layout();
    const int fd = ::open(partial_path(out_).c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    auto write_block = [&](const RowRange& r, bool reach_file) {
      const std::vector<const void*> data{ids_.data() + 2 * r.begin, y_.data() + r.begin};
      const BlockDigest b = digest_block(fp.outputs, r.rows(), data);
      if (reach_file) {
        ASSERT_EQ(pwrite(fd, data[0], r.rows() * 16, l.offsets[0] + r.begin * 16), r.rows() * 16);
        ASSERT_EQ(pwrite(fd, data[1], r.rows() * 4, l.offsets[1] + r.begin * 4), r.rows() * 4);
        ASSERT_EQ(pwrite(fd, b.flags.data(), b.flags.size(), l.flags_offset + r.begin), r.rows());
      }
      c.record_written(r, b.crc, b.flagged);
    };
    write_block({0, 2}, true);   // row 1: y is NaN
    write_block({4, 6}, false);  // journaled, but its bytes were lost (a crashed node's cache)
    write_block({2, 4}, true);
    close(fd);
    c.sync();
  }
  for (bool parallel : {false, true}) {  // either writer resumes it
    o.parallel_writer = parallel;
    Checkpoint resumed(out_, fp, o);
    EXPECT_EQ(resumed.done_rows(), 4);
    EXPECT_NE(resumed.describe().find("1 journaled block(s) not matching"), std::string::npos)
        << resumed.describe();
  }
  Checkpoint resumed(out_, fp, options());
  resumed.open();
  resumed.record({4, 6}, {ids_.data() + 8, y_.data() + 4});
  EXPECT_EQ(resumed.finish_in_place(), 1);  // row 1
  resumed.remove_journal();
  std::vector<int64_t> got_ids(12);
  std::vector<float> got_y(6);
  std::vector<uint8_t> status(6);
  hid_t f = H5Fopen(partial_path(out_).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  for (auto [name, type, dst] : {std::tuple<const char*, hid_t, void*>{"/ids", H5T_NATIVE_INT64, got_ids.data()},
                                 {"/y", H5T_NATIVE_FLOAT, got_y.data()},
                                 {"/status", H5T_NATIVE_UINT8, status.data()}}) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    H5Dclose(d);
  }
  H5Fclose(f);
  EXPECT_EQ(got_ids, ids_);
  EXPECT_EQ(got_y[5], 6.0f);
  EXPECT_EQ(status, (std::vector<uint8_t>{0, 1, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace mgi
