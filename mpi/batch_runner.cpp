#include "batch_runner.hpp"

#include <algorithm>
#include <chrono>

#include "signals.hpp"
#include "trace.hpp"

namespace mgi {

namespace {
using Clock = Trace::Clock;
}  // namespace

BatchRunner::BatchRunner(const DatasetReader& reader, Backend& backend, const Graph& graph, const ModelIo& io,
                         int64_t batch_size)
    : reader_(reader), backend_(backend), io_(io), batch_(batch_size) {
  std::vector<Shape> ones = io.input_rows;
  for (Shape& one : ones) one.insert(one.begin(), 1);
  const std::vector<Shape> shapes = graph.infer_shapes(ones);
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
  in_ptrs_.resize(graph.inputs.size());
  out_ptrs_.resize(graph.outputs.size());
  if (io.ragged) {
    if (io.mask_input >= 0) mask_.resize(static_cast<size_t>(batch_ * std::max<int64_t>(1, io.ragged->max_length)));
    batch_out_.resize(graph.outputs.size());
    for (size_t k = 0; k < graph.outputs.size(); ++k) batch_out_[k].resize(static_cast<size_t>(batch_ * out_floats_[k]));
    in_shapes_.resize(graph.inputs.size());
  }
}

void BatchRunner::run_ragged(const Slice& rows, const std::vector<float*>& out, RankStats& st) {
  const RaggedIndex& ix = *io_.ragged;
  const int64_t tok = shape_numel(io_.token_shape);
  const size_t data = static_cast<size_t>(io_.data_input);
  const int64_t group = batch_ * kRaggedGroupBatches;
  for (int64_t g0 = rows.begin; g0 < rows.end; g0 += group) {
    const int64_t g1 = std::min(rows.end, g0 + group);
    const int64_t v0 = ix.offsets[g0], v1 = ix.offsets[g1];
    auto t0 = Clock::now();
    values_.resize(static_cast<size_t>((v1 - v0) * tok));
    reader_.read_rows(v0, v1 - v0, values_.data());
    st.read_s += elapsed_span("read", t0);
    const std::vector<int64_t> order = length_order(ix, g0, g1);
    for (size_t b = 0; b < order.size(); b += static_cast<size_t>(batch_)) {
      throw_if_interrupted();
      const int64_t n = std::min<int64_t>(batch_, static_cast<int64_t>(order.size() - b));
      const int64_t seq = std::max<int64_t>(1, ix.length(order[b]));  // longest first
      std::fill(input_.begin(), input_.begin() + n * seq * tok, 0.0f);
      if (!mask_.empty()) std::fill(mask_.begin(), mask_.begin() + n * seq, 0.0f);
      for (int64_t j = 0; j < n; ++j) {
        const int64_t row = order[b + static_cast<size_t>(j)], len = ix.length(row);
        std::copy_n(values_.data() + (ix.offsets[row] - v0) * tok, len * tok, input_.data() + j * seq * tok);
        if (!mask_.empty()) std::fill_n(mask_.data() + j * seq, len, 1.0f);
      }
      in_shapes_[data] = {n, seq};
      for (int64_t d : io_.token_shape) in_shapes_[data].push_back(d);
      in_ptrs_[data] = input_.data();
      if (io_.mask_input >= 0) {
        in_shapes_[static_cast<size_t>(io_.mask_input)] = {n, seq};
        in_ptrs_[static_cast<size_t>(io_.mask_input)] = mask_.data();
      }
      for (size_t k = 0; k < out_ptrs_.size(); ++k) out_ptrs_[k] = batch_out_[k].data();
      t0 = Clock::now();
      backend_.run_shaped(in_shapes_, in_ptrs_, out_ptrs_);
      st.compute_s += elapsed_span("compute", t0);
      for (size_t k = 0; k < out_ptrs_.size(); ++k) {
        if (written_as_[k] < 0) continue;
        const int64_t f = out_floats_[k];
        for (int64_t j = 0; j < n; ++j)
          std::copy_n(batch_out_[k].data() + j * f, f,
                      out[static_cast<size_t>(written_as_[k])] + (order[b + static_cast<size_t>(j)] - rows.begin) * f);
      }
      st.rows += n;
      st.batches += 1;
    }
  }
}

void BatchRunner::run(const Slice& rows, const std::vector<float*>& out, RankStats& st) {
  if (io_.ragged) return run_ragged(rows, out, st);
  for (int64_t at = rows.begin; at < rows.end; at += batch_) {
    throw_if_interrupted();  // in-flight work is dropped: at most one batch of delay
    const int64_t n = std::min(batch_, rows.end - at);
    auto t0 = Clock::now();
    reader_.read_rows(at, n, input_.data());
    st.read_s += elapsed_span("read", t0);
    in_ptrs_[0] = input_.data();
    for (size_t k = 0; k < out_ptrs_.size(); ++k)
      out_ptrs_[k] = written_as_[k] >= 0 ? out[written_as_[k]] + (at - rows.begin) * out_floats_[k]
                                         : scratch_[k].data();
    t0 = Clock::now();
    backend_.run(n, in_ptrs_, out_ptrs_);
    st.compute_s += elapsed_span("compute", t0);
    st.rows += n;
    st.batches += 1;
  }
}

void BatchRunner::run_mapped(const RowMap& map, const Slice& vrows, const std::vector<float*>& out,
                             RankStats& st) {
  int64_t at = 0;  // virtual offset of the piece within vrows
  std::vector<float*> ptrs(out.size());
  for (const RowRange& piece : map.physical(vrows.begin, vrows.end)) {
    for (size_t d = 0; d < out.size(); ++d) ptrs[d] = out[d] + at * written_floats_[d];
    run({piece.begin, piece.end}, ptrs, st);
    at += piece.rows();
  }
}

}  // namespace mgi
