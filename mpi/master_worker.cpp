#include "master_worker.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

#include "batch_runner.hpp"
#include "debug_hooks.hpp"
#include "error_sync.hpp"
#include "mpi_handles.hpp"
#include "signals.hpp"
#include "trace.hpp"

namespace mgi {

namespace {
using Clock = Trace::Clock;

enum Tag : int { kRequest = 11, kResult = 12, kResultData = 13, kFail = 14, kDone = 15, kAssign = 21 };

struct Assignment {
  int64_t id = -1, begin = -1, end = -1;
  bool stop() const { return begin < 0; }
};

Comm dup(MPI_Comm c) {
  MPI_Comm d = MPI_COMM_NULL;
  MGI_MPI(MPI_Comm_dup(c, &d));
  return Comm(d);
}

// Rank 0's master loop: answers requests in arrival order, writes results.
class Master {
 public:
  Master(const DynamicRun& run, MPI_Comm requests, MPI_Comm replies, const std::vector<int64_t>& floats)
      : run_(run), req_(requests), rep_(replies), floats_(floats) {
    for (size_t d = 0; d < floats.size(); ++d) {
      types_.emplace_back(floats[d]);
      buf_.emplace_back(static_cast<size_t>(run.max_task_rows * floats[d]));
    }
  }

  // Runs until every worker has said done or failed. A write failure stops
  // handing out work; it is returned for the collective decision.
  std::exception_ptr serve() {
    int active = run_.size;
    size_t next = 0;
    std::exception_ptr write_error;
    bool stopping = false;
    while (active > 0) {
      MPI_Message msg;
      MPI_Status st;
      wait_for_message(msg, st);
      const int src = st.MPI_SOURCE;
      if (interrupt_requested()) stopping = true;  // a signal on rank 0: no new work
      if (st.MPI_TAG == kRequest) {
        int unused = 0;
        MGI_MPI(MPI_Mrecv(&unused, 1, MPI_INT, &msg, MPI_STATUS_IGNORE));
        Assignment a;
        if (!stopping && next < run_.tasks.size()) {
          const Task& t = run_.tasks[next++];
          a = {t.id, t.begin, t.end};
        }
        MGI_MPI(MPI_Send(&a, 3, MPI_INT64_T, src, kAssign, rep_));
      } else if (st.MPI_TAG == kResult) {
        Assignment h;
        MGI_MPI(MPI_Mrecv(&h, 3, MPI_INT64_T, &msg, MPI_STATUS_IGNORE));
        const int rows = static_cast<int>(h.end - h.begin);
        for (size_t d = 0; d < buf_.size(); ++d)
          MGI_MPI(MPI_Recv(buf_[d].data(), rows, types_[d].get(), src, kResultData, req_, MPI_STATUS_IGNORE));
        if (!write_error) {
          try {
            std::vector<const float*> block;
            for (const auto& b : buf_) block.push_back(b.data());
            run_.checkpoint->record({h.begin, h.end}, block);
          } catch (...) {
            write_error = std::current_exception();
            stopping = true;
          }
        }
      } else {  // kFail (the worker reports its own error) or kDone
        int unused = 0;
        MGI_MPI(MPI_Mrecv(&unused, 1, MPI_INT, &msg, MPI_STATUS_IGNORE));
        if (st.MPI_TAG == kFail) stopping = true;
        --active;
      }
    }
    // Stopped by a signal with tasks never handed out: every worker got "stop"
    // and ends normally, so the interrupt must be reported from here (exit 75),
    // or the job would go on to assemble an output with rows missing.
    if (!write_error && next < run_.tasks.size() && interrupt_requested()) {
      try {
        throw_if_interrupted();
      } catch (...) {
        return std::current_exception();
      }
    }
    return write_error;
  }

 private:
  // A blocking MPI_Mprobe spins a whole core in Open MPI, taking it from rank
  // 0's own compute. Poll instead, and back off to short sleeps when idle:
  // under load a message is nearly always waiting, so dispatch stays fast.
  // Spins for the first 200 us without a message (requests come every few
  // microseconds at full dispatch rate), yields up to 5 ms, then sleeps
  // 200 us per poll (tasks that long make that latency negligible).
  void wait_for_message(MPI_Message& msg, MPI_Status& st) {
    int found = 0;
    const auto start = Clock::now();
    for (;;) {
      MGI_MPI(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, req_, &found, &msg, &st));
      if (found) return;
      const auto idle = Clock::now() - start;
      if (idle < std::chrono::microseconds(200)) continue;
      if (idle < std::chrono::milliseconds(5))
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  const DynamicRun& run_;
  MPI_Comm req_, rep_;
  std::vector<int64_t> floats_;
  std::vector<RowType> types_;
  std::vector<std::vector<float>> buf_;
};

}  // namespace

RankStats run_dynamic(const DynamicRun& run) {
  const auto t_start = Clock::now();
  RankStats st;
  Comm requests = dup(run.comm), replies = dup(run.comm);
  BatchRunner runner(*run.reader, *run.backend, *run.graph, *run.io, run.batch_size);
  const size_t outputs = run.io->outputs.size();
  std::vector<int64_t> floats(outputs);
  std::vector<RowType> types;
  std::vector<std::vector<float>> out(outputs);
  std::vector<float*> out_ptrs(outputs);
  for (size_t d = 0; d < outputs; ++d) {
    floats[d] = runner.floats_per_row(d);
    types.emplace_back(floats[d]);
    out[d].resize(static_cast<size_t>(run.max_task_rows * floats[d]));
    out_ptrs[d] = out[d].data();
  }

  std::exception_ptr master_error;
  std::thread master_thread;
  std::unique_ptr<Master> master;
  if (run.rank == 0) {
    master = std::make_unique<Master>(run, requests.get(), replies.get(), floats);
    master_thread = std::thread([&] {
      try {
        master_error = master->serve();
      } catch (const std::exception& e) {
        // An MPI failure inside the protocol: nobody can be told, so stop the job.
        std::fprintf(stderr, "mgi-mpi: error [rank 0, master]: %s\n", e.what());
        MPI_Abort(MPI_COMM_WORLD, static_cast<int>(Exit::runtime));
      }
    });
  }

  std::exception_ptr local;
  const int ask = 0;
  MPI_Request next_req = MPI_REQUEST_NULL;
  Assignment cur, next;
  auto t0 = Clock::now();
  MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kRequest, requests.get()));
  MGI_MPI(MPI_Recv(&cur, 3, MPI_INT64_T, 0, kAssign, replies.get(), MPI_STATUS_IGNORE));
  st.idle_s += elapsed_span("wait", t0);
  int64_t done_tasks = 0;
  while (!cur.stop()) {
    // Prefetch: the next assignment is on its way while this task computes.
    MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kRequest, requests.get()));
    MGI_MPI(MPI_Irecv(&next, 3, MPI_INT64_T, 0, kAssign, replies.get(), &next_req));
    try {
      if (injected_failure(run.rank, done_tasks)) throw RuntimeError("injected failure (MGI_DEBUG_FAIL_RANK)");
      runner.run({cur.begin, cur.end}, out_ptrs, st);
    } catch (const Error& e) {
      local = std::make_exception_ptr(Error(e.code(), "task rows [" + std::to_string(cur.begin) + ", " +
                                                          std::to_string(cur.end) + "): " + e.what()));
    } catch (const std::exception& e) {
      local = std::make_exception_ptr(RuntimeError("task rows [" + std::to_string(cur.begin) + ", " +
                                                   std::to_string(cur.end) + "): " + e.what()));
    }
    t0 = Clock::now();
    if (local) {
      MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kFail, requests.get()));
      MGI_MPI(MPI_Wait(&next_req, MPI_STATUS_IGNORE));
      break;
    }
    MGI_MPI(MPI_Send(&cur, 3, MPI_INT64_T, 0, kResult, requests.get()));
    const int rows = static_cast<int>(cur.end - cur.begin);
    for (size_t d = 0; d < outputs; ++d)
      MGI_MPI(MPI_Send(out[d].data(), rows, types[d].get(), 0, kResultData, requests.get()));
    st.gather_s += elapsed_span("send", t0);
    t0 = Clock::now();
    MGI_MPI(MPI_Wait(&next_req, MPI_STATUS_IGNORE));
    st.idle_s += elapsed_span("wait", t0);
    ++done_tasks;
    cur = next;
  }
  if (!local) MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kDone, requests.get()));
  if (master_thread.joinable()) master_thread.join();
  if (!local && master_error) local = master_error;
  st.tasks = done_tasks;
  agree(run.comm, local);
  st.total_s = elapsed_span("run", t_start);
  return st;
}

}  // namespace mgi
