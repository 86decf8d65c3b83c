#include "launch_env.hpp"

#include <cstdlib>
#include <map>

#include "error.hpp"

namespace mgi {

namespace {

constexpr char kSep = '\x1f';  // unit separator: cannot appear in the numbers, unlikely in device lists

// A non-negative decimal that fits an int, else -1.
int parse_index(const std::string& s) {
  if (s.empty() || s.size() > 9) return -1;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "0,1,4-6" -> {0, 1, 4, 5, 6}; empty when any part is not an index or a range
// (Slurm may list GPUs by other names on some sites: then it is not a device pool).
std::vector<int> parse_index_list(const std::string& s) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = s.find(',', pos);
    const std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const size_t dash = item.find('-');
    if (dash == std::string::npos) {
      const int v = parse_index(item);
      if (v < 0) return {};
      out.push_back(v);
    } else {
      const int a = parse_index(item.substr(0, dash)), b = parse_index(item.substr(dash + 1));
      if (a < 0 || b < a || b - a > 4096) return {};
      for (int v = a; v <= b; ++v) out.push_back(v);
    }
    if (out.size() > 65536) return {};  // not a GPU list
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// What this rank's devices are: equal keys mean the ranks share one device pool.
std::string pool_key(const LaunchEnv& e) {
  if (e.cuda_visible_set) return "C" + e.cuda_visible;
  if (!parse_index_list(e.slurm_gpus).empty()) return "S" + e.slurm_gpus;
  return "A";
}

// The launcher's idea of the node-local rank: Open MPI's when mpirun started us
// (SLURM_LOCALID is then the batch step's), else Slurm's.
const char* launcher_var(const LaunchEnv& e) {
  if (e.ompi_local_rank >= 0) return "OMPI_COMM_WORLD_LOCAL_RANK";
  if (e.slurm_localid >= 0) return "SLURM_LOCALID";
  return nullptr;
}
int launcher_rank(const LaunchEnv& e) { return e.ompi_local_rank >= 0 ? e.ompi_local_rank : e.slurm_localid; }

}  // namespace

LaunchEnv read_launch_env(const EnvLookup& lookup) {
  LaunchEnv e;
  if (const char* v = lookup("OMPI_COMM_WORLD_LOCAL_RANK")) e.ompi_local_rank = parse_index(v);
  if (const char* v = lookup("SLURM_LOCALID")) e.slurm_localid = parse_index(v);
  if (const char* v = lookup("CUDA_VISIBLE_DEVICES")) {
    e.cuda_visible_set = true;
    e.cuda_visible = v;
  }
  for (const char* name : {"SLURM_STEP_GPUS", "SLURM_JOB_GPUS"}) {
    if (const char* v = lookup(name)) {
      e.slurm_gpus_var = name;
      e.slurm_gpus = v;
      break;
    }
  }
  return e;
}

LaunchEnv read_launch_env() {
  return read_launch_env([](const char* name) { return std::getenv(name); });
}

std::string encode_launch_env(const LaunchEnv& e) {
  auto text = [](std::string s) {
    for (char& c : s)
      if (c == kSep) c = '?';
    return s;
  };
  return std::to_string(e.ompi_local_rank) + kSep + std::to_string(e.slurm_localid) + kSep +
         (e.cuda_visible_set ? "1" : "0") + kSep + text(e.cuda_visible) + kSep + text(e.slurm_gpus_var) + kSep +
         text(e.slurm_gpus);
}

LaunchEnv decode_launch_env(const std::string& s) {
  std::vector<std::string> f(1);
  for (char c : s) {
    if (c == kSep)
      f.emplace_back();
    else
      f.back() += c;
  }
  if (f.size() != 6) throw RuntimeError("launcher environment record has " + std::to_string(f.size()) +
                                        " fields, expected 6");
  LaunchEnv e;
  e.ompi_local_rank = parse_index(f[0]);  // "-1" reads as -1 too
  e.slurm_localid = parse_index(f[1]);
  e.cuda_visible_set = f[2] == "1";
  e.cuda_visible = f[3];
  e.slurm_gpus_var = f[4];
  e.slurm_gpus = f[5];
  return e;
}

NodeBinding bind_node(const std::vector<LaunchEnv>& by_local_rank, const std::string& host) {
  NodeBinding nb;
  std::map<std::string, int> pool_size;
  for (const auto& e : by_local_rank) ++pool_size[pool_key(e)];
  std::map<std::string, int> seen;
  for (size_t i = 0; i < by_local_rank.size(); ++i) {
    const LaunchEnv& e = by_local_rank[i];
    const int mpi_local = static_cast<int>(i);
    RankBinding b;
    const std::string key = pool_key(e);
    b.pool_rank = seen[key]++;
    b.pool_ranks = pool_size[key];

    const char* var = launcher_var(e);
    if (var) {
      b.summary = std::string(var) + "=" + std::to_string(launcher_rank(e));
      if (launcher_rank(e) != mpi_local) {
        b.summary += " (MPI: " + std::to_string(mpi_local) + ")";
        if (nb.mismatch.empty())
          nb.mismatch = std::string("node-local rank ") + std::to_string(mpi_local) + " on host " + host +
                        " has " + var + "=" + std::to_string(launcher_rank(e)) +
                        "; using MPI's node-local ranks (MPI_Comm_split_type)" +
                        (e.ompi_local_rank < 0 ? "; under mpirun SLURM_LOCALID is the batch step's, not the rank's"
                                               : "");
      }
    }
    if (!b.summary.empty()) b.summary += " ";
    if (e.cuda_visible_set) {
      b.summary += "CUDA_VISIBLE_DEVICES=" + (e.cuda_visible.empty() ? std::string("''") : e.cuda_visible);
    } else {
      b.slurm_gpus = parse_index_list(e.slurm_gpus);
      if (!b.slurm_gpus.empty()) {
        b.slurm_gpus_var = e.slurm_gpus_var;
        b.summary += e.slurm_gpus_var + "=" + e.slurm_gpus + " (CUDA_VISIBLE_DEVICES unset)";
      } else {
        b.summary += "CUDA_VISIBLE_DEVICES unset";
      }
    }
    nb.ranks.push_back(std::move(b));
  }
  return nb;
}

}  // namespace mgi
