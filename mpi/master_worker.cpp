#include "master_worker.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
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

// Rank 0's master: hands out tasks in list order (largest first) and journals
// results. With several ranks a thread serves every worker's messages, rank
// 0's own worker included. With one rank there is no master thread: the
// worker takes tasks and records its results directly (take_local, record),
// in row order, merged, with no message round trip between two threads of a
// process that mpirun binds to one core.
class Master {
 public:
  // local_rows: the most rows take_local() may hand out at once (>= run.max_task_rows).
  // row_bytes: per written output, one row in its type.
  Master(const DynamicRun& run, MPI_Comm requests, MPI_Comm replies, const std::vector<int64_t>& row_bytes,
         int64_t local_rows)
      : run_(run), req_(requests), rep_(replies), tasks_(run.tasks), local_rows_(local_rows) {
    if (run.size == 1)  // row order (see take_local)
      std::stable_sort(tasks_.begin(), tasks_.end(), [](const Task& x, const Task& y) { return x.begin < y.begin; });
    for (size_t d = 0; d < row_bytes.size(); ++d) {  // remote results only
      types_.emplace_back(row_bytes[d]);
      buf_.emplace_back(run.size > 1 && !run.parallel ? static_cast<size_t>(run.max_task_rows * row_bytes[d]) : 0);
    }
  }

  // The next task, or a stop (begin < 0) when none is left, a worker failed,
  // a result could not be written, or a signal arrived on rank 0.
  Assignment take() {
    std::lock_guard<std::mutex> lock(mu_);
    return take_locked();
  }

  // take() for the worker of a single rank (no master thread). Nothing to
  // balance: tasks go in row order, each grown over the ones that follow it
  // up to local_rows, so the factoring schedule's small tail tasks do not
  // each start a read pipeline, end in a part batch and pad rows sorted among
  // few others. The rows and their results are the same; the journal records
  // fewer, longer ranges.
  Assignment take_local() {
    std::lock_guard<std::mutex> lock(mu_);
    Assignment a = take_locked();
    if (!a.stop())
      while (next_ < tasks_.size() && tasks_[next_].begin == a.end &&
             tasks_[next_].end - a.begin <= local_rows_)
        a.end = tasks_[next_++].end;
    return a;
  }

  // Journals rows [a.begin, a.end) of `block`. A write failure stops handing
  // out work; it is returned by finish() for the collective decision.
  void record(const Assignment& a, const std::vector<const void*>& block) {
    std::lock_guard<std::mutex> lock(mu_);
    record_locked(a, block);
  }

  // Parallel writer: journals a block a worker has written.
  void record_written(const WrittenBlock& b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (write_error_) return;
    try {
      run_.checkpoint->record_written({b.begin, b.end}, static_cast<uint32_t>(b.crc), b.flagged);
      // Rank 0's fdatasync flushes the other ranks' writes where they share
      // its page cache (one node); elsewhere a node crash may lose rows the
      // journal claims: the CRC check at resume finds them (docs/DURABILITY.md).
      if (run_.checkpoint->sync_due()) run_.checkpoint->sync();
    } catch (...) {
      write_error_ = std::current_exception();
      stopping_ = true;
    }
  }

  // Serves every worker's messages until each has said done or failed.
  void serve() {
    int active = run_.size;
    std::vector<const void*> block(buf_.size());
    while (active > 0) {
      MPI_Message msg;
      MPI_Status st;
      wait_for_message(msg, st);
      const int src = st.MPI_SOURCE;
      if (st.MPI_TAG == kRequest) {
        int unused = 0;
        MGI_MPI(MPI_Mrecv(&unused, 1, MPI_INT, &msg, MPI_STATUS_IGNORE));
        const Assignment a = take();
        MGI_MPI(MPI_Send(&a, 3, MPI_INT64_T, src, kAssign, rep_));
      } else if (st.MPI_TAG == kResult && run_.parallel) {  // the rows are in the file: their record
        int64_t h[5];
        MGI_MPI(MPI_Mrecv(h, 5, MPI_INT64_T, &msg, MPI_STATUS_IGNORE));
        record_written(WrittenBlock{h[1], h[2], h[3], h[4]});
      } else if (st.MPI_TAG == kResult) {
        Assignment h;
        MGI_MPI(MPI_Mrecv(&h, 3, MPI_INT64_T, &msg, MPI_STATUS_IGNORE));
        const int rows = static_cast<int>(h.end - h.begin);
        for (size_t d = 0; d < buf_.size(); ++d)
          MGI_MPI(MPI_Recv(buf_[d].data(), rows, types_[d].get(), src, kResultData, req_, MPI_STATUS_IGNORE));
        for (size_t d = 0; d < buf_.size(); ++d) block[d] = buf_[d].data();
        record(h, block);
      } else {  // kFail (the worker reports its own error) or kDone
        int unused = 0;
        MGI_MPI(MPI_Mrecv(&unused, 1, MPI_INT, &msg, MPI_STATUS_IGNORE));
        if (st.MPI_TAG == kFail) {
          std::lock_guard<std::mutex> lock(mu_);
          stopping_ = true;
        }
        --active;
      }
    }
  }

  // After every worker is done: the write error, or the interrupt when a
  // signal stopped the hand-out with tasks left. Every worker got "stop" and
  // ended normally then, so the interrupt must be reported from here (exit
  // 75), or the job would go on to assemble an output with rows missing.
  std::exception_ptr finish() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!write_error_ && next_ < tasks_.size() && interrupt_requested()) {
      try {
        throw_if_interrupted();
      } catch (...) {
        return std::current_exception();
      }
    }
    return write_error_;
  }

 private:
  Assignment take_locked() {
    if (interrupt_requested()) stopping_ = true;  // a signal on rank 0: no new work
    Assignment a;
    if (!stopping_ && next_ < tasks_.size()) {
      const Task& t = tasks_[next_++];
      a = {t.id, t.begin, t.end};
    }
    return a;
  }

  void record_locked(const Assignment& a, const std::vector<const void*>& block) {
    if (write_error_) return;
    try {
      run_.checkpoint->record({a.begin, a.end}, block);
    } catch (...) {
      write_error_ = std::current_exception();
      stopping_ = true;
    }
  }

  // A blocking MPI_Mprobe spins a whole core in Open MPI, taking it from rank
  // 0's own compute. Poll instead: spin for the first 200 us without a
  // message (at full dispatch rate requests come every few microseconds),
  // then sleep 50 us between polls. Not sched_yield(): on a core shared with
  // rank 0's compute thread (mpirun binds a rank to one core) a yield hands
  // the core to the worker for the rest of a scheduler slice, milliseconds,
  // even while that worker only busy-waits in MPI for this thread's reply;
  // a thread waking from a short sleep is scheduled at once.
  void wait_for_message(MPI_Message& msg, MPI_Status& st) {
    int found = 0;
    const auto start = Clock::now();
    for (;;) {
      MGI_MPI(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, req_, &found, &msg, &st));
      if (found) return;
      if (Clock::now() - start >= std::chrono::microseconds(200))
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  const DynamicRun& run_;
  MPI_Comm req_, rep_;
  std::vector<RowType> types_;         // one row of each output as MPI_BYTEs
  std::vector<std::vector<char>> buf_;  // a remote task's results, per output
  std::vector<Task> tasks_;  // in the order they are handed out
  int64_t local_rows_;
  std::mutex mu_;  // guards what follows, and the checkpoint
  size_t next_ = 0;
  bool stopping_ = false;
  std::exception_ptr write_error_;
};

}  // namespace

namespace {

// Results of merged tasks (one rank, ragged input) held at once, at most.
constexpr int64_t kMergedResultBytes = int64_t{64} << 20;

// Wraps a task's error with its row range.
std::exception_ptr task_error(const Assignment& a) {
  const std::string rows = "task rows [" + std::to_string(a.begin) + ", " + std::to_string(a.end) + "): ";
  try {
    throw;
  } catch (const Error& e) {
    return std::make_exception_ptr(Error(e.code(), rows + e.what()));
  } catch (const std::exception& e) {
    return std::make_exception_ptr(RuntimeError(rows + e.what()));
  }
}

}  // namespace

RankStats run_dynamic(const DynamicRun& run) {
  const auto t_start = Clock::now();
  RankStats st;
  Comm requests = dup(run.comm), replies = dup(run.comm);
  BatchRunner runner(*run.inputs, *run.backend, *run.graph, *run.io, run.batch_size);
  const size_t outputs = run.io->outputs.size();
  std::vector<int64_t> out_bytes(outputs);  // per output, one row in its type
  std::vector<RowType> types;
  std::vector<std::vector<char>> out(outputs);
  std::vector<void*> out_ptrs(outputs);
  std::vector<const void*> block(outputs);
  int64_t row_bytes = 0;
  for (size_t d = 0; d < outputs; ++d) row_bytes += runner.row_bytes(d);
  // One rank, ragged input: merged tasks of at least one group of batches,
  // as static mode sorts rows by length (BatchRunner), while their results
  // stay small.
  int64_t task_rows = run.max_task_rows;
  if (run.size == 1 && run.io->ragged)
    task_rows = std::max(task_rows, std::min(run.batch_size * BatchRunner::kRaggedGroupBatches,
                                             kMergedResultBytes / std::max<int64_t>(1, row_bytes)));
  for (size_t d = 0; d < outputs; ++d) {
    out_bytes[d] = runner.row_bytes(d);
    types.emplace_back(out_bytes[d]);
    out[d].resize(static_cast<size_t>(task_rows * out_bytes[d]));
    out_ptrs[d] = out[d].data();
    block[d] = out[d].data();
  }

  std::exception_ptr local;
  int64_t done_tasks = 0;
  WrittenBlock written;  // parallel writer: the last task's block, written
  auto compute = [&](const Assignment& a) {
    try {
      if (injected_failure(world_rank(), done_tasks)) throw RuntimeError("injected failure (MGI_DEBUG_FAIL_RANK)");
      runner.run({a.begin, a.end}, out_ptrs, st);
      if (run.parallel) {
        const auto t0 = Clock::now();
        written = run.parallel->add({a.begin, a.end}, block);
        run.parallel->write();
        st.write_s += elapsed_span("write", t0);
      }
    } catch (...) {
      local = task_error(a);
    }
    return !local;
  };

  std::unique_ptr<Master> master;
  if (run.rank == 0) master = std::make_unique<Master>(run, requests.get(), replies.get(), out_bytes, task_rows);
  if (run.size == 1) {
    // The only worker: takes tasks and records results itself.
    for (;;) {
      auto t0 = Clock::now();
      const Assignment cur = master->take_local();
      st.idle_s += elapsed_span("wait", t0);
      if (cur.stop() || !compute(cur)) break;
      t0 = Clock::now();
      if (run.parallel)
        master->record_written(written);
      else
        master->record(cur, block);
      st.write_s += elapsed_span("write", t0);
      ++done_tasks;
    }
  } else {
    std::thread master_thread;
    if (master)
      master_thread = std::thread([&] {
        try {
          master->serve();
        } catch (const std::exception& e) {
          // An MPI failure inside the protocol: nobody can be told, so stop the job.
          std::fprintf(stderr, "mgi-mpi: error [rank 0, master]: %s\n", e.what());
          MPI_Abort(MPI_COMM_WORLD, static_cast<int>(Exit::runtime));
        }
      });
    const int ask = 0;
    MPI_Request next_req = MPI_REQUEST_NULL;
    Assignment cur, next;
    auto t0 = Clock::now();
    MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kRequest, requests.get()));
    MGI_MPI(MPI_Recv(&cur, 3, MPI_INT64_T, 0, kAssign, replies.get(), MPI_STATUS_IGNORE));
    st.idle_s += elapsed_span("wait", t0);
    while (!cur.stop()) {
      // Prefetch: the next assignment is on its way while this task computes.
      MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kRequest, requests.get()));
      MGI_MPI(MPI_Irecv(&next, 3, MPI_INT64_T, 0, kAssign, replies.get(), &next_req));
      const bool ok = compute(cur);
      t0 = Clock::now();
      if (!ok) {
        MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kFail, requests.get()));
        MGI_MPI(MPI_Wait(&next_req, MPI_STATUS_IGNORE));
        break;
      }
      if (run.parallel) {
        const int64_t h[5] = {cur.id, written.begin, written.end, written.crc, written.flagged};
        MGI_MPI(MPI_Send(h, 5, MPI_INT64_T, 0, kResult, requests.get()));
      } else {
        MGI_MPI(MPI_Send(&cur, 3, MPI_INT64_T, 0, kResult, requests.get()));
        const int rows = static_cast<int>(cur.end - cur.begin);
        for (size_t d = 0; d < outputs; ++d)
          MGI_MPI(MPI_Send(out[d].data(), rows, types[d].get(), 0, kResultData, requests.get()));
      }
      st.gather_s += elapsed_span("send", t0);
      t0 = Clock::now();
      MGI_MPI(MPI_Wait(&next_req, MPI_STATUS_IGNORE));
      st.idle_s += elapsed_span("wait", t0);
      ++done_tasks;
      cur = next;
    }
    if (!local) MGI_MPI(MPI_Send(&ask, 1, MPI_INT, 0, kDone, requests.get()));
    if (master_thread.joinable()) master_thread.join();
  }
  if (master) {
    const std::exception_ptr master_error = master->finish();
    if (!local && master_error) local = master_error;
  }
  st.tasks = done_tasks;
  agree(run.comm, local);
  st.total_s = elapsed_span("run", t_start);
  return st;
}

}  // namespace mgi
