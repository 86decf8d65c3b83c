// Binding from the launcher's environment (pure; the MPI layer gathers each
// node's views and feeds them in). What each launcher tells a rank:
//   srun    SLURM_LOCALID, CUDA_VISIBLE_DEVICES and SLURM_STEP_GPUS (one set for
//           the node, or one GPU per task with --gpus-per-task / --gpu-bind)
//   mpirun  OMPI_COMM_WORLD_LOCAL_RANK; inside an allocation it also inherits the
//           batch step's SLURM_LOCALID (0 on every rank), which is stale
// The node-local rank itself comes from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED),
// right under any launcher; the launcher's value is only cross-checked.
#pragma once
#include <functional>
#include <string>
#include <vector>

namespace mgi {

// One rank's view of its environment.
struct LaunchEnv {
  int ompi_local_rank = -1;       // OMPI_COMM_WORLD_LOCAL_RANK; -1: unset or not a number
  int slurm_localid = -1;         // SLURM_LOCALID; -1: unset or not a number
  bool cuda_visible_set = false;  // CUDA_VISIBLE_DEVICES is set (possibly empty: no device)
  std::string cuda_visible;
  std::string slurm_gpus_var;     // SLURM_STEP_GPUS, else SLURM_JOB_GPUS; "" when neither is set
  std::string slurm_gpus;         // its value, e.g. "2,3"
};

using EnvLookup = std::function<const char*(const char*)>;
LaunchEnv read_launch_env(const EnvLookup& lookup);
LaunchEnv read_launch_env();  // from this process's environment

// Flat text form, so the MPI layer can gather views as strings.
std::string encode_launch_env(const LaunchEnv& e);
LaunchEnv decode_launch_env(const std::string& s);  // inverse of encode; throws RuntimeError on garbage

struct RankBinding {
  // This rank's place among the node's ranks that see the same devices: all of
  // them when every rank sees the same CUDA_VISIBLE_DEVICES, only itself when
  // the launcher gave each task its own GPU(s). Devices are dealt out by it.
  int pool_rank = 0, pool_ranks = 1;
  // Device indices from SLURM_STEP_GPUS/SLURM_JOB_GPUS when CUDA_VISIBLE_DEVICES is
  // unset (the process then sees every GPU of the node, not only the job's).
  std::vector<int> slurm_gpus;
  std::string slurm_gpus_var;
  std::string summary;  // "SLURM_LOCALID=1 CUDA_VISIBLE_DEVICES=0,1": what the binding came from
};

struct NodeBinding {
  std::vector<RankBinding> ranks;  // by MPI node-local rank
  std::string mismatch;            // one line when the launcher's local rank differs from MPI's
};

// `by_local_rank[i]` is the view of the rank with MPI node-local rank i.
NodeBinding bind_node(const std::vector<LaunchEnv>& by_local_rank, const std::string& host);

}  // namespace mgi
