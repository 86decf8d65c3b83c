#include "batch_runner.hpp"

#include <algorithm>
#include <chrono>

namespace mgi {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

BatchRunner::BatchRunner(const DatasetReader& reader, Backend& backend, const Graph& graph, const ModelIo& io,
                         int64_t batch_size)
    : reader_(reader), backend_(backend), io_(io), batch_(batch_size) {
  Shape one = io.input_rows[0];
  one.insert(one.begin(), 1);
  const std::vector<Shape> shapes = graph.infer_shapes({one});
  out_floats_.resize(graph.outputs.size());
  for (size_t k = 0; k < graph.outputs.size(); ++k) out_floats_[k] = shape_numel(shapes[graph.outputs[k]]);
  written_as_.assign(graph.outputs.size(), -1);
  for (size_t d = 0; d < io.graph_output.size(); ++d) {
    written_as_[io.graph_output[d]] = static_cast<int>(d);
    written_floats_.push_back(shape_numel(io.outputs[d].row_shape));
  }
  scratch_.resize(graph.outputs.size());
  for (size_t k = 0; k < graph.outputs.size(); ++k)
    if (written_as_[k] < 0) scratch_[k].resize(static_cast<size_t>(batch_ * out_floats_[k]));
  input_.resize(static_cast<size_t>(batch_ * io.input_row_elements));
  in_ptrs_.resize(1);
  out_ptrs_.resize(graph.outputs.size());
}

void BatchRunner::run(const Slice& rows, const std::vector<float*>& out, RankStats& st) {
  for (int64_t at = rows.begin; at < rows.end; at += batch_) {
    const int64_t n = std::min(batch_, rows.end - at);
    auto t0 = Clock::now();
    reader_.read_rows(at, n, input_.data());
    st.read_s += since(t0);
    in_ptrs_[0] = input_.data();
    for (size_t k = 0; k < out_ptrs_.size(); ++k)
      out_ptrs_[k] = written_as_[k] >= 0 ? out[written_as_[k]] + (at - rows.begin) * out_floats_[k]
                                         : scratch_[k].data();
    t0 = Clock::now();
    backend_.run(n, in_ptrs_, out_ptrs_);
    st.compute_s += since(t0);
    st.rows += n;
    st.batches += 1;
  }
}

}  // namespace mgi
