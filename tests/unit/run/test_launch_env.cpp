#include <gtest/gtest.h>

#include <map>
#include <string>

#include "device_select.hpp"
#include "error.hpp"
#include "launch_env.hpp"

namespace mgi {

namespace {
using Env = std::map<std::string, std::string>;

LaunchEnv from(const Env& env) {
  return read_launch_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

// The environments each launcher gives the ranks of one node (as seen on this
// machine under Slurm 22.05 and Open MPI 4.1).
std::vector<LaunchEnv> srun_node(int n, const std::string& gpus) {
  std::vector<LaunchEnv> v;
  for (int i = 0; i < n; ++i)
    v.push_back(from({{"SLURM_LOCALID", std::to_string(i)}, {"CUDA_VISIBLE_DEVICES", gpus},
                      {"SLURM_STEP_GPUS", gpus}, {"SLURM_JOB_GPUS", gpus}}));
  return v;
}
std::vector<LaunchEnv> mpirun_in_allocation(int n, const std::string& gpus) {
  std::vector<LaunchEnv> v;
  for (int i = 0; i < n; ++i)  // SLURM_LOCALID inherited from the batch step: 0 everywhere
    v.push_back(from({{"OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(i)}, {"SLURM_LOCALID", "0"},
                      {"CUDA_VISIBLE_DEVICES", gpus}, {"SLURM_JOB_GPUS", gpus}}));
  return v;
}

DeviceChoice choose(const RankBinding& b, int visible) {
  DeviceRequest r;
  r.requested = "auto";
  r.local_rank = b.pool_rank;
  r.local_size = b.pool_ranks;
  r.visible_devices = visible;
  r.host = "node1";
  r.slurm_gpus = b.slurm_gpus;
  r.slurm_gpus_var = b.slurm_gpus_var;
  return choose_device(r);
}
}  // namespace

TEST(LaunchEnv, ReadsLauncherVariables) {
  LaunchEnv e = from({{"OMPI_COMM_WORLD_LOCAL_RANK", "3"}, {"SLURM_LOCALID", "0"}, {"CUDA_VISIBLE_DEVICES", ""},
                      {"SLURM_JOB_GPUS", "4,5"}});
  EXPECT_EQ(e.ompi_local_rank, 3);
  EXPECT_EQ(e.slurm_localid, 0);
  EXPECT_TRUE(e.cuda_visible_set);
  EXPECT_EQ(e.cuda_visible, "");
  EXPECT_EQ(e.slurm_gpus_var, "SLURM_JOB_GPUS");
  EXPECT_EQ(e.slurm_gpus, "4,5");
  // The step's GPUs win over the job's; junk numbers read as unset.
  e = from({{"SLURM_STEP_GPUS", "1"}, {"SLURM_JOB_GPUS", "0,1"}, {"SLURM_LOCALID", "x"}});
  EXPECT_EQ(e.slurm_gpus_var, "SLURM_STEP_GPUS");
  EXPECT_EQ(e.slurm_localid, -1);
  EXPECT_FALSE(e.cuda_visible_set);
}

TEST(LaunchEnv, EncodeDecodeRoundTrip) {
  LaunchEnv e = from({{"OMPI_COMM_WORLD_LOCAL_RANK", "12"}, {"CUDA_VISIBLE_DEVICES", "GPU-1a2b,GPU-3c4d"},
                      {"SLURM_STEP_GPUS", "0-3"}});
  LaunchEnv d = decode_launch_env(encode_launch_env(e));
  EXPECT_EQ(d.ompi_local_rank, 12);
  EXPECT_EQ(d.slurm_localid, -1);
  EXPECT_TRUE(d.cuda_visible_set);
  EXPECT_EQ(d.cuda_visible, "GPU-1a2b,GPU-3c4d");
  EXPECT_EQ(d.slurm_gpus_var, "SLURM_STEP_GPUS");
  EXPECT_EQ(d.slurm_gpus, "0-3");
  EXPECT_THROW(decode_launch_env("1\x1f"
                                 "2"),
               RuntimeError);
}

TEST(LaunchEnv, SrunOneSetPerNodeDealsGpusByLocalRank) {
  NodeBinding nb = bind_node(srun_node(4, "0,1,2,3"), "node1");
  EXPECT_TRUE(nb.mismatch.empty());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(nb.ranks[i].pool_rank, i);
    EXPECT_EQ(nb.ranks[i].pool_ranks, 4);
    EXPECT_EQ(nb.ranks[i].summary, "SLURM_LOCALID=" + std::to_string(i) + " CUDA_VISIBLE_DEVICES=0,1,2,3");
    EXPECT_EQ(choose(nb.ranks[i], 4).device, i);
  }
}

TEST(LaunchEnv, MpirunInsideAllocationUsesOpenMpiNotStaleSlurmLocalid) {
  NodeBinding nb = bind_node(mpirun_in_allocation(2, "0,1"), "node1");
  EXPECT_TRUE(nb.mismatch.empty()) << nb.mismatch;
  EXPECT_EQ(nb.ranks[1].summary, "OMPI_COMM_WORLD_LOCAL_RANK=1 CUDA_VISIBLE_DEVICES=0,1");
  EXPECT_EQ(choose(nb.ranks[0], 2).device, 0);
  EXPECT_EQ(choose(nb.ranks[1], 2).device, 1);
}

TEST(LaunchEnv, OneGpuPerTaskMeansDeviceZeroOfItsOwnSet) {
  // srun --gpus-per-task=1 (or --gpu-bind=single:1): each task sees only its GPU.
  std::vector<LaunchEnv> v;
  for (int i = 0; i < 4; ++i)
    v.push_back(from({{"SLURM_LOCALID", std::to_string(i)}, {"CUDA_VISIBLE_DEVICES", std::to_string(i)}}));
  NodeBinding nb = bind_node(v, "node1");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(nb.ranks[i].pool_rank, 0);
    EXPECT_EQ(nb.ranks[i].pool_ranks, 1);
    EXPECT_EQ(choose(nb.ranks[i], 1).device, 0);  // 4 ranks, 1 visible GPU each: no "more ranks than GPUs"
  }
}

TEST(LaunchEnv, GpuBindClosestGroupsRanksBySet) {
  // Two sockets: ranks 0, 2 see GPUs 0,1 and ranks 1, 3 see GPUs 2,3.
  std::vector<LaunchEnv> v;
  for (int i = 0; i < 4; ++i)
    v.push_back(from({{"SLURM_LOCALID", std::to_string(i)}, {"CUDA_VISIBLE_DEVICES", i % 2 ? "2,3" : "0,1"}}));
  NodeBinding nb = bind_node(v, "node1");
  EXPECT_EQ(nb.ranks[0].pool_rank, 0);
  EXPECT_EQ(nb.ranks[2].pool_rank, 1);
  EXPECT_EQ(nb.ranks[1].pool_rank, 0);
  EXPECT_EQ(nb.ranks[3].pool_rank, 1);
  for (const auto& b : nb.ranks) EXPECT_EQ(b.pool_ranks, 2);
  EXPECT_EQ(choose(nb.ranks[2], 2).device, 1);
}

TEST(LaunchEnv, SlurmGpusArePoolWhenCudaVisibleDevicesIsUnset) {
  // A second job on the node got GPUs 2,3 but nothing hides 0,1 from it.
  std::vector<LaunchEnv> v;
  for (int i = 0; i < 2; ++i)
    v.push_back(from({{"SLURM_LOCALID", std::to_string(i)}, {"SLURM_JOB_GPUS", "2,3"}}));
  NodeBinding nb = bind_node(v, "node1");
  EXPECT_EQ(nb.ranks[1].slurm_gpus, (std::vector<int>{2, 3}));
  EXPECT_EQ(nb.ranks[1].summary, "SLURM_LOCALID=1 SLURM_JOB_GPUS=2,3 (CUDA_VISIBLE_DEVICES unset)");
  EXPECT_EQ(choose(nb.ranks[0], 4).device, 2);
  EXPECT_EQ(choose(nb.ranks[1], 4).device, 3);
  // A GPU this process cannot see is a runtime error naming the variable.
  try {
    choose(nb.ranks[1], 3);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Exit::runtime);
    EXPECT_NE(std::string(e.what()).find("SLURM_JOB_GPUS lists GPU 3"), std::string::npos) << e.what();
  }
  // Ranges; names that are not indices are not a pool.
  v[0] = from({{"SLURM_JOB_GPUS", "0-2,5"}});
  EXPECT_EQ(bind_node({v[0]}, "n").ranks[0].slurm_gpus, (std::vector<int>{0, 1, 2, 5}));
  v[0] = from({{"SLURM_JOB_GPUS", "gpu0"}});
  EXPECT_TRUE(bind_node({v[0]}, "n").ranks[0].slurm_gpus.empty());
  // runtime.gpu_ids (indices among visible devices) win over Slurm's list.
  DeviceRequest r;
  r.local_rank = 0;
  r.local_size = 1;
  r.visible_devices = 4;
  r.gpu_ids = {1};
  r.slurm_gpus = {2, 3};
  r.slurm_gpus_var = "SLURM_JOB_GPUS";
  EXPECT_EQ(choose_device(r).device, 1);
}

TEST(LaunchEnv, DisagreementIsOneLineAndMpiWins) {
  // Ranks started by something that sets only SLURM_LOCALID, and a stale one.
  std::vector<LaunchEnv> v;
  for (int i = 0; i < 3; ++i) v.push_back(from({{"SLURM_LOCALID", "0"}, {"CUDA_VISIBLE_DEVICES", "0,1,2"}}));
  NodeBinding nb = bind_node(v, "node7");
  EXPECT_NE(nb.mismatch.find("node-local rank 1 on host node7 has SLURM_LOCALID=0"), std::string::npos)
      << nb.mismatch;
  EXPECT_NE(nb.mismatch.find("under mpirun SLURM_LOCALID is the batch step's"), std::string::npos);
  EXPECT_EQ(nb.mismatch.find('\n'), std::string::npos);
  EXPECT_EQ(nb.ranks[2].summary, "SLURM_LOCALID=0 (MPI: 2) CUDA_VISIBLE_DEVICES=0,1,2");
  EXPECT_EQ(choose(nb.ranks[2], 3).device, 2);
  // Open MPI's value disagreeing is reported without the SLURM_LOCALID hint.
  v = mpirun_in_allocation(2, "0,1");
  std::swap(v[0], v[1]);
  nb = bind_node(v, "node7");
  EXPECT_NE(nb.mismatch.find("OMPI_COMM_WORLD_LOCAL_RANK=1"), std::string::npos) << nb.mismatch;
  EXPECT_EQ(nb.mismatch.find("batch step"), std::string::npos);
}

TEST(LaunchEnv, PlainRunWithoutLauncher) {
  NodeBinding nb = bind_node({from({})}, "laptop");
  EXPECT_TRUE(nb.mismatch.empty());
  EXPECT_EQ(nb.ranks[0].summary, "CUDA_VISIBLE_DEVICES unset");
  EXPECT_EQ(nb.ranks[0].pool_ranks, 1);
}

}  // namespace mgi
