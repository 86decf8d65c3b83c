// How many threads the CPU backend of one rank runs (runtime.threads), and
// whether the launcher left it the cores for them. mpirun binds each rank to
// one core by default (np <= 2) or to a socket, srun to --cpus-per-task: a
// rank's affinity mask, not the node's core count, is what its threads share.
#pragma once
#include <string>

namespace mgi {

struct CpuThreads {
  int threads = 1;
  std::string warning;  // non-empty: more threads than CPUs the rank may run on
};

// requested: runtime.threads (0 = automatic); cpus_allowed: CPUs in the
// rank's affinity mask (0 = unknown); cpus_online: the node's CPUs;
// local_ranks: ranks on the node. Automatic = the mask's CPUs when the rank is
// bound to a subset, else the node's CPUs split between its ranks.
CpuThreads cpu_threads(int requested, int cpus_allowed, int cpus_online, int local_ranks);

// CPUs in this process's affinity mask; 0 when it cannot be read.
int affinity_cpu_count();

}  // namespace mgi
