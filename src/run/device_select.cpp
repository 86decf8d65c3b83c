#include "device_select.hpp"

#include <cstdlib>

#include "error.hpp"

namespace mgi {

namespace {
std::string visible_env() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? std::string("CUDA_VISIBLE_DEVICES='") + v + "'" : "CUDA_VISIBLE_DEVICES unset";
}
}  // namespace

DeviceChoice choose_device(const DeviceRequest& req) {
  if (req.requested == "cpu") return {};
  if (req.visible_devices == 0 && !req.cuda_missing.empty()) {
    if (req.requested == "auto") return {false, -1, "cuda not loaded (" + req.cuda_missing + ")"};
    throw RuntimeError("runtime.device is 'cuda' but the CUDA backend cannot be loaded on host " + req.host + " (" +
                       req.cuda_missing + "); use runtime.device: cpu or auto");
  }
  if (req.visible_devices == 0) {
    if (req.requested == "auto") return {};
    throw RuntimeError("runtime.device is 'cuda' but no CUDA device is visible on host " + req.host +
                       " (" + visible_env() + "); use runtime.device: cpu or auto");
  }
  // Pool: runtime.gpu_ids, else the job's GPUs from Slurm when nothing hides
  // the others (CUDA_VISIBLE_DEVICES unset), else every visible device.
  const bool from_slurm = req.gpu_ids.empty() && !req.slurm_gpus.empty();
  std::vector<int> pool = from_slurm ? req.slurm_gpus : req.gpu_ids;
  if (pool.empty())
    for (int d = 0; d < req.visible_devices; ++d) pool.push_back(d);
  for (int id : pool) {
    if (id >= 0 && id < req.visible_devices) continue;
    const std::string where = " does not exist on host " + req.host + ", which has " +
                              std::to_string(req.visible_devices) + " visible device(s) (" + visible_env() + ")";
    if (from_slurm)
      throw RuntimeError(req.slurm_gpus_var + " lists GPU " + std::to_string(id) + ", which" + where +
                         "; set CUDA_VISIBLE_DEVICES or runtime.gpu_ids");
    throw ConfigError("runtime.gpu_ids: device " + std::to_string(id) + where);
  }
  if (req.local_size > static_cast<int>(pool.size()) && !req.allow_sharing)
    throw RuntimeError("host " + req.host + " runs " + std::to_string(req.local_size) +
                       " ranks on the same device(s) (" + visible_env() + ") but has " + std::to_string(pool.size()) +
                       " usable GPU(s); start at most one rank per GPU or set "
                       "runtime.allow_gpu_sharing: true");
  return {true, pool[req.local_rank % pool.size()], {}};
}

}  // namespace mgi
