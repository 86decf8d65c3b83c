#include "static_run.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "error_sync.hpp"
#include "mpi_handles.hpp"

namespace mgi {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int64_t per_row_floats(const Shape& row) { return shape_numel(row); }

// Test hook (README, "Testing"): MGI_DEBUG_FAIL_RANK=r makes rank r fail in
// its second window, to prove that a failure mid-run stops every rank.
bool injected_failure(int rank, int64_t window) {
  const char* v = std::getenv("MGI_DEBUG_FAIL_RANK");
  return v && *v && std::atoi(v) == rank && window == 1;
}
}  // namespace

int64_t static_batches(const Slice& slice, const GatherPlan& gather, int64_t batch_size) {
  int64_t n = 0;
  for (int64_t w = 0; w < gather.windows; ++w)
    n += (window_rows(slice, gather, w).rows() + batch_size - 1) / batch_size;
  return n;
}

RankStats run_static(const StaticRun& run) {
  const auto t_start = Clock::now();
  RankStats st;
  const Graph& g = *run.graph;
  const ModelIo& io = *run.io;
  const Slice mine = run.slices[run.rank];
  const int64_t window = run.gather.rows_per_window;
  const int ranks = static_cast<int>(run.slices.size());

  // Per graph output: floats per row. Outputs that are written get computed
  // straight into the send buffer; the others into scratch.
  const std::vector<Shape> shapes1 = g.infer_shapes({[&] {
    Shape s = io.input_rows[0];
    s.insert(s.begin(), 1);
    return s;
  }()});
  std::vector<int64_t> out_floats(g.outputs.size());
  for (size_t k = 0; k < g.outputs.size(); ++k) out_floats[k] = shape_numel(shapes1[g.outputs[k]]);
  std::vector<int> written_as(g.outputs.size(), -1);
  for (size_t d = 0; d < io.graph_output.size(); ++d) written_as[io.graph_output[d]] = static_cast<int>(d);

  std::vector<float> input(static_cast<size_t>(run.batch_size * io.input_row_elements));
  std::vector<std::vector<float>> send(io.outputs.size()), recv(io.outputs.size()), scratch(g.outputs.size());
  std::vector<RowType> row_types;
  for (size_t d = 0; d < io.outputs.size(); ++d) {
    const int64_t f = per_row_floats(io.outputs[d].row_shape);
    row_types.emplace_back(f);
    send[d].resize(static_cast<size_t>(window * f));
    if (run.rank == 0) recv[d].resize(static_cast<size_t>(window * ranks * f));
  }
  for (size_t k = 0; k < g.outputs.size(); ++k)
    if (written_as[k] < 0) scratch[k].resize(static_cast<size_t>(run.batch_size * out_floats[k]));

  std::exception_ptr pending;  // rank 0's write failure, reported at the next agreement
  std::vector<const float*> in_ptrs(1);
  std::vector<float*> out_ptrs(g.outputs.size());
  for (int64_t w = 0; w < run.gather.windows; ++w) {
    const Slice part = window_rows(mine, run.gather, w);
    collectively(run.comm, [&] {
      if (pending) std::rethrow_exception(pending);
      if (injected_failure(run.rank, w)) throw RuntimeError("injected failure (MGI_DEBUG_FAIL_RANK)");
      for (int64_t at = part.begin; at < part.end; at += run.batch_size) {
        const int64_t n = std::min(run.batch_size, part.end - at);
        auto t0 = Clock::now();
        run.reader->read_rows(at, n, input.data());
        st.read_s += since(t0);
        in_ptrs[0] = input.data();
        for (size_t k = 0; k < g.outputs.size(); ++k)
          out_ptrs[k] = written_as[k] >= 0 ? send[written_as[k]].data() + (at - part.begin) * out_floats[k]
                                           : scratch[k].data();
        t0 = Clock::now();
        run.backend->run(n, in_ptrs, out_ptrs);
        st.compute_s += since(t0);
        st.rows += n;
        st.batches += 1;
      }
    });
    const WindowLayout layout = window_layout(run.slices, run.gather, w);
    auto t0 = Clock::now();
    for (size_t d = 0; d < io.outputs.size(); ++d)
      MGI_MPI(MPI_Gatherv(send[d].data(), static_cast<int>(part.rows()), row_types[d].get(),
                          run.rank == 0 ? recv[d].data() : nullptr, layout.counts.data(),
                          layout.displs.data(), row_types[d].get(), 0, run.comm));
    st.gather_s += since(t0);
    if (run.rank == 0 && !pending) {
      t0 = Clock::now();
      try {
        for (size_t d = 0; d < io.outputs.size(); ++d) {
          const int64_t f = per_row_floats(io.outputs[d].row_shape);
          for (int r = 0; r < ranks; ++r)
            run.writer->write_rows(d, layout.first_row[r], layout.counts[r],
                                   recv[d].data() + static_cast<int64_t>(layout.displs[r]) * f);
        }
      } catch (...) {
        pending = std::current_exception();
      }
      st.write_s += since(t0);
    }
  }
  agree(run.comm, pending);
  st.total_s = since(t_start);
  return st;
}

}  // namespace mgi
