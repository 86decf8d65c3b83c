#include <gtest/gtest.h>

#include "device_select.hpp"
#include "error.hpp"

namespace mgi {

namespace {
DeviceRequest req(const std::string& dev, int local_rank, int local_size, int visible) {
  DeviceRequest r;
  r.requested = dev;
  r.local_rank = local_rank;
  r.local_size = local_size;
  r.visible_devices = visible;
  r.host = "node1";
  return r;
}
}  // namespace

TEST(DeviceSelect, AutoWithoutGpuIsCpu) { EXPECT_FALSE(choose_device(req("auto", 0, 4, 0)).cuda); }

TEST(DeviceSelect, CpuIgnoresGpus) { EXPECT_FALSE(choose_device(req("cpu", 1, 2, 8)).cuda); }

TEST(DeviceSelect, OneGpuPerLocalRank) {
  for (int r = 0; r < 4; ++r) {
    auto c = choose_device(req("auto", r, 4, 4));
    EXPECT_TRUE(c.cuda);
    EXPECT_EQ(c.device, r);
  }
}

TEST(DeviceSelect, CudaWithoutDeviceIsRuntimeError) {
  try {
    choose_device(req("cuda", 0, 1, 0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_NE(std::string(e.what()).find("node1"), std::string::npos);
  }
}

// The CUDA backend built but not loadable here (its module or a CUDA library
// missing: cuda_module.hpp): auto runs on the CPU and says why; cuda is exit 5
// naming the library.
TEST(DeviceSelect, CudaBackendMissingAutoNotesWhyCudaFails) {
  const std::string why = "libcudart.so.13: cannot open shared object file: No such file or directory";
  auto r = req("auto", 0, 2, 0);
  r.cuda_missing = why;
  const DeviceChoice c = choose_device(r);
  EXPECT_FALSE(c.cuda);
  EXPECT_EQ(c.note, "cuda not loaded (" + why + ")");
  r.requested = "cpu";
  EXPECT_TRUE(choose_device(r).note.empty());
  r.requested = "cuda";
  try {
    choose_device(r);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_EQ(std::string(e.what()), "runtime.device is 'cuda' but the CUDA backend cannot be loaded on host node1 (" +
                                         why + "); use runtime.device: cpu or auto");
  }
  // Without a reason (loaded, no device; or built without CUDA): as before, no note.
  EXPECT_TRUE(choose_device(req("auto", 0, 1, 0)).note.empty());
}

TEST(DeviceSelect, MoreRanksThanGpusIsAnErrorUnlessSharing) {
  try {
    choose_device(req("auto", 2, 3, 2));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_NE(std::string(e.what()).find("3 ranks"), std::string::npos) << e.what();
  }
  auto r = req("auto", 2, 3, 2);
  r.allow_sharing = true;
  EXPECT_EQ(choose_device(r).device, 0);
}

TEST(DeviceSelect, GpuIdsPickAndValidate) {
  auto r = req("cuda", 1, 2, 4);
  r.gpu_ids = {3, 1};
  EXPECT_EQ(choose_device(r).device, 1);
  r.gpu_ids = {0, 4};
  EXPECT_THROW(choose_device(r), ConfigError);
}

}  // namespace mgi
