// The CUDA entry points on a node without a usable device: they answer "none"
// and never throw; asking for the backend is a clear runtime error (exit 5).
#include <gtest/gtest.h>

#include <string>

#include "backend.hpp"
#include "error.hpp"

namespace mgi {
namespace {

// Without a driver (this build machine) or without a device the queries answer
// "none" and never throw; asking for the backend is a runtime error (exit 5).
TEST(DeviceQuery, NoDeviceMeansZeroAndAClearError) {
  EXPECT_TRUE(cuda_compiled());
  int count = -1;
  EXPECT_NO_THROW(count = cuda_device_count());
  EXPECT_GE(count, 0);
  EXPECT_TRUE(cuda_device_name(-1).empty());
  EXPECT_TRUE(cuda_device_name(count).empty());
  if (count > 0) GTEST_SKIP() << count << " CUDA device(s) present: the no-device path is not reachable";
  try {
    make_cuda_backend(0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_NE(std::string(e.what()).find("no CUDA device"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mgi
