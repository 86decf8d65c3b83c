// Rank -> device choice from the node-local view (pure; the MPI layer feeds it).
#pragma once
#include <string>
#include <vector>

namespace mgi {

struct DeviceRequest {
  std::string requested = "auto";  // auto | cuda | cpu
  int local_rank = 0;
  int local_size = 1;
  int visible_devices = 0;         // CUDA devices this process sees (after CUDA_VISIBLE_DEVICES)
  std::vector<int> gpu_ids;        // runtime.gpu_ids (indices among visible devices)
  bool allow_sharing = false;
  std::string host;
};

struct DeviceChoice {
  bool cuda = false;
  int device = -1;  // CUDA device index when cuda
};

// Throws RuntimeError (exit 5) for cuda without a device and for more ranks
// than GPUs on a node (unless sharing is allowed); ConfigError for bad gpu_ids.
DeviceChoice choose_device(const DeviceRequest& req);

}  // namespace mgi
