#include "topology.hpp"

#include <unistd.h>

#include <climits>
#include <vector>

#include "mpi_handles.hpp"

namespace mgi {

namespace {

// Every rank of `comm` gets every rank's string, in rank order.
std::vector<std::string> allgather_strings(const std::string& mine, MPI_Comm comm) {
  int size = 0;
  MGI_MPI(MPI_Comm_size(comm, &size));
  int len = static_cast<int>(mine.size());
  std::vector<int> lens(size), displs(size, 0);
  MGI_MPI(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm));
  for (int r = 1; r < size; ++r) displs[r] = displs[r - 1] + lens[r - 1];
  std::string all(static_cast<size_t>(displs[size - 1] + lens[size - 1]), '\0');
  MGI_MPI(MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, comm));
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r) out.push_back(all.substr(displs[r], lens[r]));
  return out;
}

}  // namespace

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

  // Each node's ranks compare their launcher environments; the first rank (in
  // world order) on a node where launcher and MPI disagree tells everyone.
  std::vector<LaunchEnv> views;
  for (const auto& s : allgather_strings(encode_launch_env(read_launch_env()), node.get()))
    views.push_back(decode_launch_env(s));
  NodeBinding nb = bind_node(views, t.host);
  t.binding = nb.ranks[static_cast<size_t>(t.local_rank)];
  int mine = nb.mismatch.empty() ? INT_MAX : t.rank, first = INT_MAX;
  MGI_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, world));
  if (first != INT_MAX) {
    t.binding_warning = nb.mismatch;
    bcast_string(t.binding_warning, first, world);
  }
  return t;
}

}  // namespace mgi
