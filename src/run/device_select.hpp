// Rank -> device choice from the node-local view (pure; the MPI layer feeds it).
#pragma once
#include <string>
#include <vector>

namespace mgi {

struct DeviceRequest {
  std::string requested = "auto";  // auto | cuda | cpu
  // Place among the node's ranks that share this rank's devices (bind_node's
  // pool_rank/pool_ranks): the node-local rank when all see the same devices.
  int local_rank = 0;
  int local_size = 1;
  int visible_devices = 0;         // CUDA devices this process sees (after CUDA_VISIBLE_DEVICES)
  std::vector<int> gpu_ids;        // runtime.gpu_ids (indices among visible devices)
  bool allow_sharing = false;
  std::string host;
  // The job's GPUs from SLURM_STEP_GPUS/SLURM_JOB_GPUS (named by slurm_gpus_var)
  // when CUDA_VISIBLE_DEVICES is unset; used when runtime.gpu_ids is not given.
  std::vector<int> slurm_gpus;
  std::string slurm_gpus_var;
  // Why the CUDA backend cannot be used in this process, when it was built but
  // its module or a CUDA library could not be loaded (cuda_module.hpp's reason,
  // e.g. "libcudart.so.13: cannot open shared object file: ..."); empty otherwise.
  std::string cuda_missing;
};

struct DeviceChoice {
  bool cuda = false;
  int device = -1;  // CUDA device index when cuda
  // auto fell back to the CPU because the CUDA backend could not be loaded:
  // "cuda not loaded (<reason>)", for the plan. Empty otherwise.
  std::string note;
};

// Throws RuntimeError (exit 5) for cuda without a device or without the CUDA
// backend (req.cuda_missing), for more ranks than
// GPUs on a node (unless sharing is allowed) and for Slurm GPUs this process
// cannot see; ConfigError for bad gpu_ids.
DeviceChoice choose_device(const DeviceRequest& req);

}  // namespace mgi
