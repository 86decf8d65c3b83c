// Typed data path at the HDF5 ends: an input dataset of any numeric type is
// read converted to the model input's type, and each output dataset is stored
// in its model output's type (bool as uint8, float16/bfloat16 as float32).
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "dataset_reader.hpp"
#include "output_writer.hpp"

namespace mgi {
namespace {

std::string temp(const char* tag) { return testing::TempDir() + "mgi-typed-" + tag + "-" + std::to_string(getpid()) + ".h5"; }

template <class T>
void write_dataset(const std::string& path, hid_t file_type, hid_t mem_type, const std::vector<hsize_t>& dims,
                   const std::vector<T>& v) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t s = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t d = H5Dcreate2(f, "/x", file_type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(d), H5Sclose(s), H5Fclose(f);
}

// The dataset's stored type equals `want` (H5T_STD_I64LE, ...).
bool stored_as(const std::string& path, const char* dataset, hid_t want) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
  hid_t t = H5Dget_type(d);
  const bool same = H5Tequal(t, want) > 0;
  H5Tclose(t), H5Dclose(d), H5Fclose(f);
  return same;
}

template <class T>
std::vector<T> read_all(const std::string& path, const char* dataset, hid_t mem_type, size_t n) {
  std::vector<T> v(n);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
  H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
  H5Dclose(d), H5Fclose(f);
  return v;
}

TEST(TypedRead, Int32TokenIdsIntoEveryModelType) {
  const std::string path = temp("read");
  const std::vector<int32_t> ids{0, 7, -3, 100000, 2, 0};
  write_dataset(path, H5T_STD_I32LE, H5T_NATIVE_INT32, {3, 2}, ids);
  DatasetReader r(path, "/x");
  EXPECT_EQ(r.dtype(), "int32");

  std::vector<int64_t> i64(4);
  r.read_rows(1, 2, DType::i64, i64.data());
  EXPECT_EQ(i64, (std::vector<int64_t>{-3, 100000, 2, 0}));
  std::vector<int32_t> i32(6);
  r.read_rows(0, 3, DType::i32, i32.data());
  EXPECT_EQ(i32, ids);
  std::vector<float> f32(2);
  r.read_rows(0, 1, f32.data());  // the float overload: the demo's path
  EXPECT_EQ(f32, (std::vector<float>{0, 7}));
  std::vector<uint8_t> b8(6, 9);
  r.read_rows(0, 3, DType::b8, b8.data());  // "!= 0", negative and large values included
  EXPECT_EQ(b8, (std::vector<uint8_t>{0, 1, 1, 1, 1, 0}));
  std::vector<uint16_t> f16(2);
  r.read_rows(1, 1, DType::f16, f16.data());
  EXPECT_EQ(half_to_float(f16[0]), -3.0f);
  EXPECT_TRUE(std::isinf(half_to_float(f16[1])));  // 100000 is past float16's range
  std::vector<uint16_t> bf16(2);
  r.read_rows(2, 1, DType::bf16, bf16.data());
  EXPECT_EQ(bf16_to_float(bf16[0]), 2.0f);
  unlink(path.c_str());
}

TEST(TypedRead, FloatIntoBoolKeepsSmallNonzeroValues) {
  const std::string path = temp("bool");
  write_dataset(path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {4}, std::vector<double>{0.0, 0.5, -1e-30, 2.0});
  DatasetReader r(path, "/x");
  std::vector<uint8_t> b(4);
  r.read_rows(0, 4, DType::b8, b.data());
  EXPECT_EQ(b, (std::vector<uint8_t>{0, 1, 1, 1}));
  unlink(path.c_str());
}

TEST(TypedWrite, EachOutputInItsOwnType) {
  const std::string out = temp("write");
  const std::vector<OutputDatasetSpec> specs{{"/y", {2}, DType::f32},
                                             {"/ids", {2}, DType::i64},
                                             {"/flag", {1}, DType::b8},
                                             {"/half", {1}, DType::f16},
                                             {"/small", {1}, DType::i8}};
  {
    OutputWriter w(out, specs, 3, OutputOptions{});
    const std::vector<float> y{0.5f, -1, 2, 3, NAN, 4};
    const std::vector<int64_t> ids{int64_t{1} << 40, -2, 3, 4, 5, 6};
    const std::vector<uint8_t> flag{1, 0, 1};
    const std::vector<uint16_t> half{float_to_half(1.5f), float_to_half(-2), float_to_half(65504)};
    const std::vector<int8_t> small{-128, 0, 127};
    w.write_rows(0, 0, 3, y.data());
    w.write_rows(1, 0, 1, ids.data());
    w.write_rows(1, 1, 2, ids.data() + 2);
    w.write_rows(2, 0, 3, flag.data());
    w.write_rows(3, 0, 3, half.data());
    w.write_rows(4, 0, 3, small.data());
    w.finish();
  }
  EXPECT_TRUE(stored_as(out, "/y", H5T_IEEE_F32LE));  // float32 as always
  EXPECT_TRUE(stored_as(out, "/ids", H5T_STD_I64LE));
  EXPECT_TRUE(stored_as(out, "/flag", H5T_STD_U8LE));
  EXPECT_TRUE(stored_as(out, "/half", H5T_IEEE_F32LE));
  EXPECT_TRUE(stored_as(out, "/small", H5T_STD_I8LE));
  EXPECT_EQ(read_all<int64_t>(out, "/ids", H5T_NATIVE_INT64, 6),
            (std::vector<int64_t>{int64_t{1} << 40, -2, 3, 4, 5, 6}));
  EXPECT_EQ(read_all<uint8_t>(out, "/flag", H5T_NATIVE_UINT8, 3), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(read_all<float>(out, "/half", H5T_NATIVE_FLOAT, 3), (std::vector<float>{1.5f, -2, 65504}));
  EXPECT_EQ(read_all<int8_t>(out, "/small", H5T_NATIVE_INT8, 3), (std::vector<int8_t>{-128, 0, 127}));
  unlink(out.c_str());
}

TEST(TypedWrite, RowBytesFollowTheType) {
  EXPECT_EQ((OutputDatasetSpec{"/y", {3, 4}, DType::f32}.row_bytes()), 48);
  EXPECT_EQ((OutputDatasetSpec{"/y", {3}, DType::i64}.row_bytes()), 24);
  EXPECT_EQ((OutputDatasetSpec{"/y", {5}, DType::b8}.row_bytes()), 5);
  EXPECT_EQ(stored_type(DType::bf16), DType::f32);
  EXPECT_EQ(stored_type(DType::b8), DType::u8);
  EXPECT_EQ(stored_type(DType::i32), DType::i32);
}

}  // namespace
}  // namespace mgi
