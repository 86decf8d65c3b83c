// Where this rank runs: world rank/size, node-local rank/size (from
// MPI_Comm_split_type, which works under mpirun and srun alike), host name.
#pragma once
#include <mpi.h>

#include <string>

namespace mgi {

struct Topology {
  int rank = 0, size = 1;
  int local_rank = 0, local_size = 1;
  int nodes = 1;
  std::string host;
};

Topology discover_topology(MPI_Comm world);

}  // namespace mgi
