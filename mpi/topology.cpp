#include "topology.hpp"

#include <unistd.h>

#include "mpi_handles.hpp"

namespace mgi {

Topology discover_topology(MPI_Comm world) {
  Topology t;
  MGI_MPI(MPI_Comm_rank(world, &t.rank));
  MGI_MPI(MPI_Comm_size(world, &t.size));
  MPI_Comm node_raw = MPI_COMM_NULL;
  MGI_MPI(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, t.rank, MPI_INFO_NULL, &node_raw));
  Comm node(node_raw);
  MGI_MPI(MPI_Comm_rank(node.get(), &t.local_rank));
  MGI_MPI(MPI_Comm_size(node.get(), &t.local_size));
  int leader = t.local_rank == 0 ? 1 : 0;
  MGI_MPI(MPI_Allreduce(&leader, &t.nodes, 1, MPI_INT, MPI_SUM, world));
  char name[256] = {0};
  gethostname(name, sizeof(name) - 1);
  t.host = name;
  return t;
}

}  // namespace mgi
