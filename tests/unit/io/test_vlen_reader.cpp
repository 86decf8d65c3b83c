// Variable-length HDF5 rows (token ids): detection, the row index, packed reads
// converted to the model's type; batches of equal-length rows for models
// without a mask; padding with input.pad_value.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "dataset_reader.hpp"
#include "error.hpp"
#include "ragged.hpp"
#include "test_rng.hpp"
#include "vlen_reader.hpp"

namespace mgi {
namespace {

// rows[i] as an [N] vlen int32 dataset /tokens, plus an ordinary /x and a 2-D vlen /grid.
std::string write_vlen(const std::vector<std::vector<int32_t>>& rows) {
  const std::string path = testing::TempDir() + "mgi-vlen-" + std::to_string(getpid()) + ".h5";
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t vt = H5Tvlen_create(H5T_NATIVE_INT32);
  std::vector<hvl_t> buf(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) buf[i] = {rows[i].size(), const_cast<int32_t*>(rows[i].data())};
  hsize_t n = rows.size();
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  hid_t d = H5Dcreate2(f, "/tokens", vt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  H5Dclose(d);
  H5Sclose(sp);
  hsize_t dims2[2] = {2, 2};
  hid_t sp2 = H5Screate_simple(2, dims2, nullptr);
  hvl_t four[4] = {buf[0], buf[0], buf[0], buf[0]};
  d = H5Dcreate2(f, "/grid", vt, sp2, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, four);
  H5Dclose(d);
  H5Sclose(sp2);
  float x[3] = {1, 2, 3};
  hsize_t three = 3;
  hid_t sp3 = H5Screate_simple(1, &three, nullptr);
  d = H5Dcreate2(f, "/x", H5T_NATIVE_FLOAT, sp3, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
  H5Dclose(d);
  H5Sclose(sp3);
  H5Tclose(vt);
  H5Fclose(f);
  return path;
}

TEST(VlenReader, IndexAndPackedReads) {
  test::Rng rng;
  SEED_TRACE(rng);
  std::uniform_int_distribution<int> len(0, 9), tok(-1000, 100000);
  std::vector<std::vector<int32_t>> rows(37);
  for (auto& r : rows) {
    r.resize(static_cast<size_t>(len(rng.gen)));
    for (int32_t& t : r) t = tok(rng.gen);
  }
  const std::string path = write_vlen(rows);
  EXPECT_TRUE(is_vlen_dataset(path, "/tokens"));
  EXPECT_FALSE(is_vlen_dataset(path, "/x"));
  EXPECT_FALSE(is_vlen_dataset(path, "/missing/deeper"));
  EXPECT_FALSE(is_vlen_dataset("/nonexistent.h5", "/tokens"));
  VlenReader r(path, "/tokens");
  EXPECT_EQ(r.rows(), 37);
  EXPECT_EQ(r.dtype(), "vlen int32");
  const RaggedIndex ix = r.index(5);  // several chunks
  ASSERT_EQ(ix.rows(), 37);
  int64_t longest = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(ix.length(static_cast<int64_t>(i)), static_cast<int64_t>(rows[i].size()));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(rows[i].size()));
  }
  EXPECT_EQ(ix.max_length, longest);
  const int64_t first = 3, count = 20;
  std::vector<int64_t> got(static_cast<size_t>(ix.offsets[first + count] - ix.offsets[first]));
  r.read_packed(first, count, ix, DType::i64, got.data());
  std::vector<int64_t> want;
  for (int64_t i = first; i < first + count; ++i) want.insert(want.end(), rows[i].begin(), rows[i].end());
  EXPECT_EQ(got, want);
  std::vector<float> as_float(got.size());
  r.read_packed(first, count, ix, DType::f32, as_float.data());
  for (size_t k = 0; k < want.size(); ++k) EXPECT_EQ(as_float[k], static_cast<float>(want[k]));
  // A row whose length changed since the index was read is an error, not an overrun.
  RaggedIndex wrong = ix;
  for (size_t k = 5; k < wrong.offsets.size(); ++k) wrong.offsets[k] += 1;
  std::vector<int64_t> big(got.size() + 64);
  EXPECT_THROW(r.read_packed(0, 10, wrong, DType::i64, big.data()), DataError);
  try {
    VlenReader bad(path, "/grid");
    ADD_FAILURE() << "2-D vlen accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 1-D [N] (one sequence per row)"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(RaggedBatches, EqualLengthBatchesForModelsWithoutAMask) {
  RaggedIndex ix;
  ix.offsets = {0, 3, 6, 8, 11, 13, 14};  // lengths 3 3 2 3 2 1
  const std::vector<int64_t> order = length_order(ix, 0, 6);  // 0 1 3 (3), 2 4 (2), 5 (1)
  ASSERT_EQ(order, (std::vector<int64_t>{0, 1, 3, 2, 4, 5}));
  EXPECT_EQ(ragged_batch_rows(ix, order, 0, 8, false), 6);
  EXPECT_EQ(ragged_batch_rows(ix, order, 0, 8, true), 3);
  EXPECT_EQ(ragged_batch_rows(ix, order, 0, 2, true), 2);
  EXPECT_EQ(ragged_batch_rows(ix, order, 3, 8, true), 2);
  EXPECT_EQ(ragged_batch_rows(ix, order, 5, 8, true), 1);
}

TEST(RaggedBatches, PadValueFillsThePaddedPositions) {
  RaggedIndex ix;
  ix.offsets = {0, 3, 4};
  const std::vector<int64_t> values = {7, 8, 9, 5};
  const std::vector<int64_t> order = {0, 1};
  std::vector<int64_t> input(6);
  std::vector<int64_t> mask(6);
  const int64_t pad = -2;
  const int64_t seq = pad_ragged_batch(ix, values.data(), 0, order, 0, 2, 8, input.data(), DType::i64, mask.data(),
                                       &pad, sizeof pad);
  EXPECT_EQ(seq, 3);
  EXPECT_EQ(input, (std::vector<int64_t>{7, 8, 9, 5, -2, -2}));
  EXPECT_EQ(mask, (std::vector<int64_t>{1, 1, 1, 1, 0, 0}));
}

}  // namespace
}  // namespace mgi
