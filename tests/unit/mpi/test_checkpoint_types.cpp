// Checkpoint with typed outputs: journal records carry each output's bytes,
// the output file gets each output in its type, and the NaN/inf check
// (on_nonfinite, /status) looks at float outputs only.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "checkpoint.hpp"
#include "error.hpp"

namespace mgi {
namespace {

class TypedCheckpoint : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const std::string& p : {out_, journal_path(out_), out_ + ".lock", partial_path(out_)}) std::remove(p.c_str());
  }
  RunFingerprint fingerprint() const {
    RunFingerprint fp;
    fp.model_sha256 = "abc";
    fp.rows = 4;
    fp.outputs = {{"/ids", {2}, DType::i64}, {"/score", {1}, DType::f16}, {"/y", {1}, DType::f32}};
    return fp;
  }
  std::string out_ = testing::TempDir() + "mgi-ckpt-typed-" + std::to_string(getpid()) + ".h5";
};

TEST_F(TypedCheckpoint, JournalsBytesAndFlagsOnlyFloatOutputs) {
  const RunFingerprint fp = fingerprint();
  EXPECT_NE(fp.text().find("\"dtype\":\"int64\""), std::string::npos);
  EXPECT_EQ(RunFingerprint{}.text().find("\"dtype\""), std::string::npos) << "no outputs: nothing typed";
  const std::vector<int64_t> ids{-1, int64_t{1} << 50, 3, 4, 5, 6, 7, 8};
  const std::vector<uint16_t> score{float_to_half(0.5f), float_to_half(NAN), float_to_half(1), float_to_half(2)};
  const std::vector<float> y{1, 2, 3, INFINITY};
  {
    Checkpoint c(out_, fp, CheckpointOptions{});
    c.open();
    c.record({0, 2}, {ids.data(), score.data(), y.data()});
    c.record({2, 4}, {ids.data() + 4, score.data() + 2, y.data() + 2});
    c.sync();
  }
  Checkpoint resumed(out_, fp, CheckpointOptions{});  // same fingerprint: every row done
  EXPECT_EQ(resumed.done_rows(), 4);
  resumed.open();
  OutputWriter w(out_, fp.outputs, 4, OutputOptions{});
  w.add_row_flags("/status");
  EXPECT_EQ(resumed.assemble(w), 2);  // row 1 (float16 NaN) and row 3 (float32 inf)
  w.finish();

  hid_t f = H5Fopen(out_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  auto read = [&](const char* name, hid_t type, void* dst) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst);
    H5Dclose(d);
  };
  std::vector<int64_t> got_ids(8);
  std::vector<uint8_t> status(4);
  std::vector<float> got_score(4);
  read("/ids", H5T_NATIVE_INT64, got_ids.data());
  read("/status", H5T_NATIVE_UINT8, status.data());
  read("/score", H5T_NATIVE_FLOAT, got_score.data());
  H5Fclose(f);
  EXPECT_EQ(got_ids, ids);
  EXPECT_EQ(status, (std::vector<uint8_t>{0, 1, 0, 1}));
  EXPECT_EQ(got_score[0], 0.5f);
  EXPECT_TRUE(std::isnan(got_score[1]));
}

TEST_F(TypedCheckpoint, FailOnNonfiniteNamesTheRowOfAFloatOutput) {
  const RunFingerprint fp = fingerprint();
  Checkpoint c(out_, fp, CheckpointOptions{false, 10, true});
  c.open();
  const std::vector<int64_t> ids(4, -1);  // integers are never "non-finite"
  const std::vector<float> y{1, 2};
  std::vector<uint16_t> score{float_to_half(0), float_to_half(0)};
  c.record({0, 2}, {ids.data(), score.data(), y.data()});
  score[1] = float_to_half(INFINITY);
  try {
    c.record({2, 4}, {ids.data(), score.data(), y.data()});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("row 3: non-finite value (inf) in output dataset '/score'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mgi

namespace mgi {
namespace {

// Fingerprint keys added for several inputs, fill values and external data are
// left out when empty (older journals still resume), and a changed weight file
// (size or modification time) makes the journal another run's.
TEST_F(TypedCheckpoint, ExtraFingerprintKeysAndChangedWeightFiles) {
  RunFingerprint fp = fingerprint();
  const std::string plain = fp.text();
  fp.extra["model_external_data"] = "";
  EXPECT_EQ(fp.text(), plain);
  fp.extra["model_external_data"] = "w1.bin 4096 bytes mtime 1";
  EXPECT_NE(fp.text().find("\"model_external_data\":\"w1.bin 4096 bytes mtime 1\""), std::string::npos);
  {
    Checkpoint c(out_, fp, CheckpointOptions{});
    c.open();
  }
  RunFingerprint changed = fp;
  changed.extra["model_external_data"] = "w1.bin 4096 bytes mtime 2";
  try {
    Checkpoint c(out_, changed, CheckpointOptions{});
    ADD_FAILURE() << "a journal of other weights was accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("model_external_data"), std::string::npos) << e.what();
  }
  Checkpoint same(out_, fp, CheckpointOptions{});  // the same files resume
  EXPECT_EQ(same.done_rows(), 0);
}

}  // namespace
}  // namespace mgi
