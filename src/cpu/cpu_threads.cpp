#include "cpu_threads.hpp"

#include <sched.h>

#include <algorithm>

namespace mgi {

CpuThreads cpu_threads(int requested, int cpus_allowed, int cpus_online, int local_ranks) {
  CpuThreads t;
  const bool bound = cpus_allowed > 0 && cpus_allowed < cpus_online;
  if (requested > 0)
    t.threads = requested;
  else
    t.threads = bound ? cpus_allowed : std::max(1, cpus_online / std::max(1, local_ranks));
  if (cpus_allowed > 0 && t.threads > cpus_allowed) {
    const std::string n = std::to_string(t.threads);
    t.warning = "runtime.threads is " + n + " but this rank may run on " + std::to_string(cpus_allowed) +
                " CPU" + (cpus_allowed == 1 ? "" : "s") +
                " (its affinity mask; mpirun binds each rank to one core by default), so the threads share " +
                (cpus_allowed == 1 ? "it" : "them") + "; give each rank " + n + " cores: mpirun --map-by slot:PE=" + n +
                ", or srun --cpus-per-task=" + n;
  }
  return t;
}

int affinity_cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  return CPU_COUNT(&set);
}

}  // namespace mgi
