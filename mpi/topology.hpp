// Where this rank runs: world rank/size, node-local rank/size (from
// MPI_Comm_split_type, which works under mpirun and srun alike), host name,
// and the device binding from the launcher's environment (launch_env.hpp).
#pragma once
#include <mpi.h>

#include <string>

#include "launch_env.hpp"

namespace mgi {

struct Topology {
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;
  int nodes = 1;
  std::string host;
  RankBinding binding;          // this rank's: device pool place, Slurm GPUs, summary
  std::string binding_warning;  // same on every rank: the first node whose launcher disagrees with MPI
};

Topology discover_topology(MPI_Comm world);

}  // namespace mgi
