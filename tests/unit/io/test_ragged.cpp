// Ragged index: offsets checks (each fault names the dataset and the first bad
// index, also when it lies in a later read chunk) and the length grouping used
// to cut padding.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "error.hpp"
#include "ragged.hpp"

namespace mgi {
namespace {

std::string fault(const std::vector<int64_t>& off, int64_t value_rows) {
  try {
    check_offsets(off, value_rows, "offsets 'o'");
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(RaggedOffsets, AcceptsValidOffsetsIncludingEmptyRows) {
  EXPECT_EQ(fault({0, 2, 2, 5}, 5), "");
  EXPECT_EQ(fault({0}, 0), "");  // N = 0
}

TEST(RaggedOffsets, EachFaultNamesTheDatasetAndFirstBadIndex) {
  EXPECT_EQ(fault({}, 0), "offsets 'o': has no entries; expected [N+1] offsets starting with 0");
  EXPECT_EQ(fault({1, 2, 5}, 5), "offsets 'o': offsets[0] = 1; the first offset must be 0");
  EXPECT_EQ(fault({0, 2, -1, 5}, 5), "offsets 'o': offsets[2] = -1 is negative");
  EXPECT_EQ(fault({0, 3, 2, 1, 5}, 5),
            "offsets 'o': offsets[2] = 2 is less than offsets[1] = 3; offsets must be non-decreasing");
  EXPECT_EQ(fault({0, 2, 4}, 5),
            "offsets 'o': offsets[2] = 4 but the values dataset has 5 rows; the last offset must equal it");
}

class RaggedFile : public ::testing::Test {
 protected:
  std::string path_ = "/tmp/mgi_test_ragged_" + std::to_string(getpid()) + ".h5";
  void write(const std::vector<int64_t>& off) {
    hid_t f = H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = off.size();
    hid_t s = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(f, "/offsets", H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, off.data());
    H5Dclose(d), H5Sclose(s), H5Fclose(f);
  }
  void TearDown() override { unlink(path_.c_str()); }
};

TEST_F(RaggedFile, ReadsInChunksAndFindsTheMaximumLength) {
  write({0, 1, 1, 4, 9, 10});
  const RaggedIndex ix = read_ragged_index(path_, "/offsets", 10, 2);
  EXPECT_EQ(ix.rows(), 5);
  EXPECT_EQ(ix.max_length, 5);
  EXPECT_EQ(ix.length(1), 0);
}

TEST_F(RaggedFile, FaultInALaterChunkCarriesItsGlobalIndex) {
  write({0, 1, 2, 3, 4, 3, 6});
  try {
    read_ragged_index(path_, "/offsets", 6, 2);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("input.offsets dataset '/offsets' in '" + path_ +
                                         "': offsets[5] = 3 is less than offsets[4] = 4"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(RaggedFile, MissingDatasetIsADataError) {
  write({0});
  EXPECT_THROW(read_ragged_index(path_, "/nope", 0), DataError);
}

TEST(RaggedOrder, LongestFirstTiesInRowOrderEveryRowOnce) {
  RaggedIndex ix;
  ix.offsets = {0, 3, 4, 7, 7, 12, 13, 16};  // lengths 3 1 3 0 5 1 3
  const std::vector<int64_t> all = length_order(ix, 0, 7);
  EXPECT_EQ(all, (std::vector<int64_t>{4, 0, 2, 6, 1, 5, 3}));
  EXPECT_EQ(length_order(ix, 2, 5), (std::vector<int64_t>{4, 2, 3}));
  EXPECT_TRUE(length_order(ix, 3, 3).empty());
}

TEST(RaggedOrder, ScatterBackRestoresInputOrder) {
  // What the batch runner does: compute in length order, write each result at
  // its row's place. A result tagged with its row must land there.
  RaggedIndex ix;
  ix.offsets = {0, 2, 9, 9, 10, 14, 15};
  const int64_t begin = 1, end = 6;
  const std::vector<int64_t> order = length_order(ix, begin, end);
  std::vector<int64_t> out(static_cast<size_t>(end - begin), -1);
  for (int64_t row : order) out[static_cast<size_t>(row - begin)] = row * 10 + ix.length(row);
  for (int64_t r = begin; r < end; ++r) EXPECT_EQ(out[static_cast<size_t>(r - begin)], r * 10 + ix.length(r));
}

TEST(RaggedPad, PadsValuesOfAnyTypeAndWritesTheMaskInItsOwnType) {
  // Token ids (int64, one per token) with an int64 mask, as Hugging Face exports take them.
  RaggedIndex ix;
  ix.offsets = {0, 2, 5, 5};  // lengths 2 3 0
  const std::vector<int64_t> ids{11, 12, 21, 22, 23};
  const std::vector<int64_t> order = length_order(ix, 0, 3);  // 1 0 2
  std::vector<int64_t> input(3 * 3, -1), mask(3 * 3, -1);
  const int64_t seq = pad_ragged_batch(ix, ids.data(), 0, order, 0, 3, 8, input.data(), DType::i64, mask.data());
  EXPECT_EQ(seq, 3);
  EXPECT_EQ(input, (std::vector<int64_t>{21, 22, 23, 11, 12, 0, 0, 0, 0}));
  EXPECT_EQ(mask, (std::vector<int64_t>{1, 1, 1, 1, 1, 0, 0, 0, 0}));
  // Float32 values ([tok] = 2) and a float32 mask; a group starting at token v0 = 2.
  const std::vector<float> vals{3, 4, 5, 6, 7, 8};  // rows 1 (tokens 2..4) of the same index
  std::vector<float> in(1 * 3 * 2, -1), m(3, -1);
  EXPECT_EQ(pad_ragged_batch(ix, vals.data(), 2, {1}, 0, 1, 2 * 4, in.data(), DType::f32, m.data()), 3);
  EXPECT_EQ(in, vals);
  EXPECT_EQ(m, (std::vector<float>{1, 1, 1}));
  // No mask input: mask is null and only the values are padded.
  std::vector<uint8_t> bytes(2 * 2, 9);
  const std::vector<uint8_t> u8{5, 6, 7, 8, 9};
  EXPECT_EQ(pad_ragged_batch(ix, u8.data(), 0, {0, 2}, 0, 2, 1, bytes.data(), DType::f32, nullptr), 2);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{5, 6, 0, 0}));
}

}  // namespace
}  // namespace mgi
