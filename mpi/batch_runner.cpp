#include "batch_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>

#include "error.hpp"
#include "signals.hpp"
#include "trace.hpp"

namespace mgi {

namespace {
using Clock = Trace::Clock;
constexpr int kReaderTid = 2;  // trace thread id of the read-ahead thread

// Stops the reader (and drains the backend first on the error path) however
// a run ends, so no fill or copy touches buffers after the run returns.
class RunGuard {
 public:
  RunGuard(ReadAhead& ahead, Backend& backend) : ahead_(ahead), backend_(backend) {}
  ~RunGuard() {
    if (!done_) backend_.drain();
    ahead_.cancel();
  }
  void done() { done_ = true; }

 private:
  ReadAhead& ahead_;
  Backend& backend_;
  bool done_ = false;
};
}  // namespace

bool BatchRunner::readahead_enabled() {
  const char* v = std::getenv("MGI_READAHEAD");
  return !(v && std::strcmp(v, "0") == 0);
}

int BatchRunner::ring_slots(int pipeline_depth) { return std::max(3, pipeline_depth + 1); }

BatchRunner::BatchRunner(const InputReaders& readers, Backend& backend, const Graph& graph, const ModelIo& io,
                         int64_t batch_size)
    : readers_(readers), backend_(backend), io_(io), batch_(batch_size) {
  MGI_ASSERT(io.fixed_batch == 0 || batch_size == io.fixed_batch, "batch size differs from the model's fixed batch");
  std::vector<Shape> ones = io.input_rows;
  const int64_t probe = io.fixed_batch > 0 ? io.fixed_batch : 1;
  for (Shape& one : ones) one.insert(one.begin(), probe);
  const std::vector<Shape> shapes = graph.infer_shapes(ones);
  for (size_t k = 0; k < graph.inputs.size(); ++k) {
    in_types_.push_back(graph.input_type(k));
    in_row_bytes_.push_back(shape_numel(io.input_rows[k]) * static_cast<int64_t>(dtype_size(graph.input_type(k))));
  }
  out_bytes_.resize(graph.outputs.size());
  for (size_t k = 0; k < graph.outputs.size(); ++k)
    out_bytes_[k] = shape_numel(row_shape(shapes[graph.outputs[k]])) *
                    static_cast<int64_t>(dtype_size(graph.output_type(k)));
  written_as_.assign(graph.outputs.size(), -1);
  for (size_t d = 0; d < io.graph_output.size(); ++d) {
    written_as_[io.graph_output[d]] = static_cast<int>(d);
    written_bytes_.push_back(io.outputs[d].row_bytes());
  }
  scratch_.resize(graph.outputs.size());
  for (size_t k = 0; k < graph.outputs.size(); ++k)
    if (written_as_[k] < 0) scratch_[k].resize(static_cast<size_t>(batch_ * out_bytes_[k]));
  in_ptrs_.resize(graph.inputs.size());
  out_ptrs_.resize(graph.outputs.size());
  // A constant input's buffer: `rows` rows of its value.
  auto constant = [&](size_t k, int64_t elements, void* dst) {
    const std::vector<char>& v = io.feeds[k].value;
    for (int64_t e = 0; e < elements; ++e) std::memcpy(static_cast<char*>(dst) + e * v.size(), v.data(), v.size());
  };
  const bool threaded = readahead_enabled();
  if (io.ragged) {
    const int64_t len = std::max<int64_t>(1, io.ragged->max_length);
    fill_.resize(graph.inputs.size());
    for (size_t k = 0; k < graph.inputs.size(); ++k) {
      if (io.feeds[k].kind != InputFeed::fill) continue;
      const int64_t elements = batch_ * shape_numel(io.input_rows[k]);
      fill_[k].resize(static_cast<size_t>(elements) * dtype_size(in_types_[k]));
      constant(k, elements, fill_[k].data());
    }
    shaped_.resize(static_cast<size_t>(std::max(1, backend_.shaped_pipeline_depth())));
    for (ShapedSlot& s : shaped_) {
      s.input.resize(static_cast<size_t>(batch_ * io.input_row_bytes));
      if (io.mask_input >= 0)
        s.mask.resize(static_cast<size_t>(batch_ * len) * dtype_size(in_types_[static_cast<size_t>(io.mask_input)]));
      s.out.resize(graph.outputs.size());
      for (size_t k = 0; k < graph.outputs.size(); ++k) s.out[k].resize(static_cast<size_t>(batch_ * out_bytes_[k]));
      s.shapes.resize(graph.inputs.size());
      s.in.resize(graph.inputs.size());
      s.outp.resize(graph.outputs.size());
    }
    ahead_ = std::make_unique<ReadAhead>(2, threaded);  // a group's values can be large: one group ahead
    values_.resize(2);
    return;
  }
  const int slots = ring_slots(backend_.pipeline_depth());
  for (int s = 0; s < slots; ++s) {
    ring_.emplace_back();
    for (size_t k = 0; k < graph.inputs.size(); ++k) {
      ring_.back().push_back(backend_.host_buffer(static_cast<size_t>(batch_ * in_row_bytes_[k])));
      if (io.feeds[k].kind == InputFeed::fill)
        constant(k, batch_ * shape_numel(io.input_rows[k]), ring_.back().back().get());
    }
  }
  if (io.fixed_batch > 0) {
    pad_out_.resize(graph.outputs.size());
    for (size_t k = 0; k < graph.outputs.size(); ++k) pad_out_[k].resize(static_cast<size_t>(batch_ * out_bytes_[k]));
  }
  ahead_ = std::make_unique<ReadAhead>(slots, threaded);
  inline_ = std::make_unique<ReadAhead>(slots, false);
}

BatchRunner::~BatchRunner() {
  backend_.drain();  // nothing in flight may outlive the ring
  if (ahead_) ahead_->cancel();  // nor a fill (runs end with one cancelled already)
}

void BatchRunner::run_pieces(const std::vector<Piece>& pieces, RankStats& st) {
  std::vector<Job> jobs;
  for (const Piece& p : pieces)
    for (int64_t at = p.begin; at < p.end; at += batch_) jobs.push_back({at, std::min(batch_, p.end - at), &p});
  if (jobs.empty()) return;
  // A run of one batch has nothing to overlap: read it here, without a thread hand-off.
  ReadAhead& ahead = jobs.size() > 1 ? *ahead_ : *inline_;
  const int tid = ahead.threaded() ? kReaderTid : 0;
  ahead.start(static_cast<int64_t>(jobs.size()), [this, &jobs, tid](int64_t i, int slot) {
    const auto t0 = Clock::now();
    const Job& job = jobs[static_cast<size_t>(i)];
    std::vector<HostBuffer>& bufs = ring_[static_cast<size_t>(slot)];
    for (size_t k = 0; k < bufs.size(); ++k) {
      const InputFeed& f = io_.feeds[k];
      if (f.kind != InputFeed::dataset) continue;
      char* dst = static_cast<char*>(bufs[k].get());
      readers_.datasets[static_cast<size_t>(f.source)]->read_rows(job.first, job.rows, in_types_[k], dst);
      // Fixed batch: a short batch is filled up with copies of its last row.
      const int64_t row = in_row_bytes_[k];
      if (io_.fixed_batch > 0)
        for (int64_t r = job.rows; r < batch_; ++r)
          std::memcpy(dst + r * row, dst + (job.rows - 1) * row, static_cast<size_t>(row));
    }
    if (tid != 0 && Trace::enabled()) Trace::record("read-ahead", t0, Clock::now(), tid);
  });
  RunGuard guard(ahead, backend_);
  const size_t depth = static_cast<size_t>(std::max(1, backend_.pipeline_depth()));
  std::deque<const Job*> flight;
  auto complete = [&] {
    const auto t0 = Clock::now();
    backend_.collect();
    if (depth > 1)  // waiting for the device; a synchronous backend computed in submit()
      st.compute_s += elapsed_span("compute", t0);
    ahead.release();
    st.rows += flight.front()->rows;
    st.batches += 1;
    flight.pop_front();
  };
  for (const Job& job : jobs) {
    throw_if_interrupted();  // in-flight work is dropped: at most one batch of delay
    auto t0 = Clock::now();
    const int slot = ahead.next();
    st.read_s += elapsed_span("read", t0);
    // A short batch of a fixed-batch model runs the full batch into pad_out_,
    // alone in flight, and only its real rows are kept.
    const bool padded = io_.fixed_batch > 0 && job.rows < batch_;
    if (padded)
      while (!flight.empty()) complete();
    if (flight.size() == depth) complete();
    for (size_t k = 0; k < in_ptrs_.size(); ++k) in_ptrs_[k] = ring_[static_cast<size_t>(slot)][k].get();
    for (size_t k = 0; k < out_ptrs_.size(); ++k)
      out_ptrs_[k] = padded              ? pad_out_[k].data()
                     : written_as_[k] >= 0 ? job.piece->out[written_as_[k]] + (job.first - job.piece->begin) * out_bytes_[k]
                                           : scratch_[k].data();
    t0 = Clock::now();
    backend_.submit(padded ? batch_ : job.rows, in_ptrs_, out_ptrs_);
    st.compute_s += elapsed_span("compute", t0);
    flight.push_back(&job);
    if (padded) {
      complete();
      for (size_t k = 0; k < out_ptrs_.size(); ++k)
        if (written_as_[k] >= 0)
          std::memcpy(job.piece->out[written_as_[k]] + (job.first - job.piece->begin) * out_bytes_[k],
                      pad_out_[k].data(), static_cast<size_t>(job.rows * out_bytes_[k]));
    }
  }
  while (!flight.empty()) complete();
  guard.done();
}

namespace {
std::vector<char*> bytes(const std::vector<void*>& out) {
  std::vector<char*> b;
  for (void* p : out) b.push_back(static_cast<char*>(p));
  return b;
}
}  // namespace

void BatchRunner::run(const Slice& rows, const std::vector<void*>& out, RankStats& st) {
  if (io_.ragged) return run_ragged(rows, bytes(out), st);
  if (rows.rows() <= 0) return;
  run_pieces({Piece{rows.begin, rows.end, bytes(out)}}, st);
}

void BatchRunner::run_mapped(const RowMap& map, const Slice& vrows, const std::vector<void*>& out,
                             RankStats& st) {
  int64_t at = 0;  // virtual offset of the piece within vrows
  std::vector<Piece> pieces;
  for (const RowRange& r : map.physical(vrows.begin, vrows.end)) {
    Piece p{r.begin, r.end, bytes(out)};
    for (size_t d = 0; d < out.size(); ++d) p.out[d] += at * written_bytes_[d];
    at += r.rows();
    if (io_.ragged)
      run_ragged({p.begin, p.end}, p.out, st);
    else
      pieces.push_back(std::move(p));
  }
  if (!pieces.empty()) run_pieces(pieces, st);
}

void BatchRunner::run_ragged(const Slice& rows, const std::vector<char*>& out, RankStats& st) {
  const RaggedIndex& ix = *io_.ragged;
  const DType type = in_types_[static_cast<size_t>(io_.data_input)];
  const int64_t tok = shape_numel(io_.token_shape);
  const int64_t group = batch_ * kRaggedGroupBatches;
  const int64_t groups = rows.rows() > 0 ? (rows.rows() + group - 1) / group : 0;
  if (groups == 0) return;
  const int tid = ahead_->threaded() ? kReaderTid : 0;
  ahead_->start(groups, [&, tid](int64_t g, int slot) {
    const auto t0 = Clock::now();
    const int64_t g0 = rows.begin + g * group, g1 = std::min(rows.end, g0 + group);
    const int64_t v0 = ix.offsets[g0], v1 = ix.offsets[g1];
    std::vector<char>& values = values_[static_cast<size_t>(slot)];
    values.resize(static_cast<size_t>((v1 - v0) * tok) * dtype_size(type));
    if (readers_.vlen)
      readers_.vlen->read_packed(g0, g1 - g0, ix, type, values.data());
    else
      readers_.datasets[0]->read_rows(v0, v1 - v0, type, values.data());
    if (tid != 0 && Trace::enabled()) Trace::record("read-ahead", t0, Clock::now(), tid);
  });
  RunGuard guard(*ahead_, backend_);
  for (int64_t g = 0; g < groups; ++g) {
    const auto t0 = Clock::now();
    const int slot = ahead_->next();
    st.read_s += elapsed_span("read", t0);
    const int64_t g0 = rows.begin + g * group, g1 = std::min(rows.end, g0 + group);
    ragged_group(values_[static_cast<size_t>(slot)], g0, g1, rows, out, st);
    ahead_->release();
  }
  guard.done();
}

void BatchRunner::ragged_group(const std::vector<char>& values, int64_t g0, int64_t g1, const Slice& rows,
                               const std::vector<char*>& out, RankStats& st) {
  const RaggedIndex& ix = *io_.ragged;
  const size_t data = static_cast<size_t>(io_.data_input);
  const int64_t tok_bytes = shape_numel(io_.token_shape) * static_cast<int64_t>(dtype_size(in_types_[data]));
  const DType mask_type = io_.mask_input >= 0 ? in_types_[static_cast<size_t>(io_.mask_input)] : DType::f32;
  const int64_t v0 = ix.offsets[g0];
  const std::vector<int64_t> order = length_order(ix, g0, g1);
  // Batches go through submit_shaped()/collect() where the backend pipelines
  // them (pipeline stages), each in its own slot until collected; else run_shaped().
  const bool pipelined = shaped_.size() > 1;
  std::deque<ShapedSlot*> flight;
  auto scatter = [&](const ShapedSlot& s) {
    for (size_t k = 0; k < s.outp.size(); ++k) {
      if (written_as_[k] < 0) continue;
      const int64_t f = out_bytes_[k];
      for (int64_t j = 0; j < s.rows; ++j)
        std::memcpy(out[static_cast<size_t>(written_as_[k])] + (order[s.first + static_cast<size_t>(j)] - rows.begin) * f,
                    s.out[k].data() + j * f, static_cast<size_t>(f));
    }
    st.rows += s.rows;
    st.batches += 1;
  };
  auto complete = [&] {
    const auto t0 = Clock::now();
    backend_.collect();
    st.compute_s += elapsed_span("compute", t0);
    scatter(*flight.front());
    flight.pop_front();
  };
  size_t next = 0;
  for (size_t b = 0; b < order.size();) {
    throw_if_interrupted();
    if (flight.size() == shaped_.size()) complete();
    ShapedSlot& s = shaped_[next++ % shaped_.size()];
    const int64_t n = ragged_batch_rows(ix, order, b, batch_, io_.equal_length);
    const int64_t seq = pad_ragged_batch(ix, values.data(), v0, order, b, n, tok_bytes, s.input.data(), mask_type,
                                         s.mask.empty() ? nullptr : s.mask.data(), io_.pad.data(), io_.pad.size());
    s.shapes[data] = {n, seq};
    for (int64_t d : io_.token_shape) s.shapes[data].push_back(d);
    s.in[data] = s.input.data();
    if (io_.mask_input >= 0) {
      s.shapes[static_cast<size_t>(io_.mask_input)] = {n, seq};
      s.in[static_cast<size_t>(io_.mask_input)] = s.mask.data();
    }
    for (size_t k = 0; k < fill_.size(); ++k)  // constants: any prefix of the buffer is the value
      if (!fill_[k].empty()) {
        s.shapes[k] = s.shapes[data];
        s.in[k] = fill_[k].data();
      }
    for (size_t k = 0; k < s.outp.size(); ++k) s.outp[k] = s.out[k].data();
    s.first = b;
    s.rows = n;
    const auto t0 = Clock::now();
    if (pipelined) {
      backend_.submit_shaped(s.shapes, s.in, s.outp);
      st.compute_s += elapsed_span("compute", t0);
      flight.push_back(&s);
    } else {
      backend_.run_shaped(s.shapes, s.in, s.outp);
      st.compute_s += elapsed_span("compute", t0);
      scatter(s);
    }
    b += static_cast<size_t>(n);
  }
  while (!flight.empty()) complete();
}

}  // namespace mgi
