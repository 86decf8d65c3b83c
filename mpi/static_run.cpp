#include "static_run.hpp"

#include <algorithm>
#include <chrono>

#include "batch_runner.hpp"
#include "debug_hooks.hpp"
#include "error_sync.hpp"
#include "mpi_handles.hpp"
#include "signals.hpp"
#include "trace.hpp"

namespace mgi {

namespace {
using Clock = Trace::Clock;
}  // namespace

int64_t static_batches(const Slice& slice, const GatherPlan& gather, int64_t batch_size) {
  int64_t n = 0;
  for (int64_t w = 0; w < gather.windows; ++w)
    n += (window_rows(slice, gather, w).rows() + batch_size - 1) / batch_size;
  return n;
}

namespace {
// Parallel writer, one window: every rank writes its rows (collective), then
// rank 0 journals the blocks every rank reports; at the flush interval (rank
// 0's clock) the file is synced by every rank before rank 0 syncs the
// journal. Rank 0's failures wait in `pending` for the next agreement.
void write_window(const StaticRun& run, const std::vector<WrittenBlock>& written, std::exception_ptr& pending,
                  RankStats& st) {
  auto t0 = Clock::now();
  collectively(run.comm, [&] { run.parallel->write_all(); });
  st.write_s += elapsed_span("write", t0);
  t0 = Clock::now();
  const std::vector<WrittenBlock> all = gather_blocks(written, run.comm);
  st.gather_s += elapsed_span("gather", t0);
  int sync_now = 0;
  if (run.rank == 0 && !pending) {
    t0 = Clock::now();
    try {
      for (const WrittenBlock& b : all)
        run.checkpoint->record_written({b.begin, b.end}, static_cast<uint32_t>(b.crc), b.flagged);
      sync_now = run.checkpoint->sync_due();
    } catch (...) {
      pending = std::current_exception();
    }
    st.write_s += elapsed_span("journal", t0);
  }
  MGI_MPI(MPI_Bcast(&sync_now, 1, MPI_INT, 0, run.comm));
  if (!sync_now) return;
  t0 = Clock::now();
  collectively(run.comm, [&] { run.parallel->sync(); });
  if (run.rank == 0) {
    try {
      run.checkpoint->sync();
    } catch (...) {
      pending = std::current_exception();
    }
  }
  st.write_s += elapsed_span("sync", t0);
}
}  // namespace

RankStats run_static(const StaticRun& run) {
  const auto t_start = Clock::now();
  RankStats st;
  const ModelIo& io = *run.io;
  const Slice mine = run.slices[run.rank];
  const int64_t window = run.gather.rows_per_window;
  const int ranks = static_cast<int>(run.slices.size());
  BatchRunner runner(*run.inputs, *run.backend, *run.graph, io, run.batch_size);

  // Written outputs are computed straight into the send buffers: bytes of
  // each output's type, sent as rows of row_bytes MPI_BYTEs.
  std::vector<std::vector<char>> send(io.outputs.size()), recv(io.outputs.size());
  std::vector<void*> send_ptrs(io.outputs.size());
  std::vector<RowType> row_types;
  for (size_t d = 0; d < io.outputs.size(); ++d) {
    const int64_t b = runner.row_bytes(d);
    row_types.emplace_back(b);
    send[d].resize(static_cast<size_t>(row_byte_offset(window, b)));
    send_ptrs[d] = send[d].data();
    if (run.rank == 0 && !run.parallel) recv[d].resize(static_cast<size_t>(row_byte_offset(window * ranks, b)));
  }

  std::exception_ptr pending;  // rank 0's write failure, reported at the next agreement
  std::vector<WrittenBlock> written;  // parallel writer: this rank's blocks of the window
  for (int64_t w = 0; w < run.gather.windows; ++w) {
    const Slice part = window_rows(mine, run.gather, w);
    Clock::time_point computed;
    collectively(run.comm, [&] {
      if (pending) std::rethrow_exception(pending);
      throw_if_interrupted();
      if (injected_failure(world_rank(), w)) throw RuntimeError("injected failure (MGI_DEBUG_FAIL_RANK)");
      runner.run_mapped(*run.todo, part, send_ptrs, st);
      if (run.parallel) {  // each physical piece of the window's rows: its place in the file and its record
        written.clear();
        int64_t at = 0;
        std::vector<const void*> block(io.outputs.size());
        for (const RowRange& piece : run.todo->physical(part.begin, part.end)) {
          for (size_t d = 0; d < io.outputs.size(); ++d)
            block[d] = send[d].data() + row_byte_offset(at, runner.row_bytes(d));
          written.push_back(run.parallel->add(piece, block));
          at += piece.rows();
        }
      }
      computed = Clock::now();
    });
    st.idle_s += elapsed_span("wait", computed);  // for the slowest rank of this window
    if (run.parallel) {
      write_window(run, written, pending, st);
      continue;
    }
    const WindowLayout layout = window_layout(run.slices, run.gather, w);
    auto t0 = Clock::now();
    for (size_t d = 0; d < io.outputs.size(); ++d)
      MGI_MPI(MPI_Gatherv(send[d].data(), static_cast<int>(part.rows()), row_types[d].get(),
                          run.rank == 0 ? recv[d].data() : nullptr, layout.counts.data(),
                          layout.displs.data(), row_types[d].get(), 0, run.comm));
    st.gather_s += elapsed_span("gather", t0);
    if (run.rank == 0 && !pending) {
      t0 = Clock::now();
      try {
        std::vector<const void*> block(io.outputs.size());
        for (int r = 0; r < ranks; ++r) {
          int64_t at = layout.displs[r];  // receive-buffer row of this piece
          for (const RowRange& piece :
               run.todo->physical(layout.first_row[r], layout.first_row[r] + layout.counts[r])) {
            for (size_t d = 0; d < io.outputs.size(); ++d)
              block[d] = recv[d].data() + row_byte_offset(at, runner.row_bytes(d));
            run.checkpoint->record(piece, block);
            at += piece.rows();
          }
        }
      } catch (...) {
        pending = std::current_exception();
      }
      st.write_s += elapsed_span("journal", t0);
    }
  }
  agree(run.comm, pending);
  st.total_s = elapsed_span("run", t_start);
  return st;
}

}  // namespace mgi
