#include "pipeline_stage.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "debug_hooks.hpp"
#include "error.hpp"
#include "error_sync.hpp"
#include "mpi_check.hpp"
#include "trace.hpp"

namespace mgi {

namespace {
using Clock = Trace::Clock;
}  // namespace

void StageRunner::run(int64_t id, int64_t rows, bool shaped, const std::vector<const void*>& in,
                      const std::vector<Shape>& in_shapes, pipe::Message& msg) {
  const Graph& g = stage_.graph;
  ptrs_.resize(g.inputs.size());
  shapes_.resize(g.inputs.size());
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const size_t from = static_cast<size_t>(stage_.input_from[k]);
    ptrs_[k] = in[from];
    shapes_[k] = in_shapes[from];
  }
  std::vector<Shape> planned;
  if (shaped && !g.inputs.empty()) planned = g.infer_shapes(shapes_);
  out_shapes_.resize(stage_.sends.size());
  for (size_t j = 0; j < stage_.sends.size(); ++j) {
    const int f = stage_.send_from[j];
    if (f < 0) {
      out_shapes_[j] = in_shapes[static_cast<size_t>(-1 - f)];
    } else if (shaped) {
      out_shapes_[j] = planned[static_cast<size_t>(g.outputs[static_cast<size_t>(f)])];
    } else {
      out_shapes_[j] = out_.rows[j];
      out_shapes_[j].insert(out_shapes_[j].begin(), rows);
    }
  }
  msg.set_data(id, rows, shaped, out_shapes_);
  outs_.assign(g.outputs.size(), nullptr);
  for (size_t j = 0; j < stage_.sends.size(); ++j)
    if (stage_.send_from[j] >= 0) outs_[static_cast<size_t>(stage_.send_from[j])] = msg.value(j);
  scratch_.resize(g.outputs.size());
  for (size_t o = 0; o < g.outputs.size(); ++o) {
    if (outs_[o]) continue;  // an output no later stage needs: computed into scratch
    const Shape s = shaped ? planned[static_cast<size_t>(g.outputs[o])] : [&] {
      std::vector<Shape> one = shapes_;
      return g.infer_shapes(one)[static_cast<size_t>(g.outputs[o])];
    }();
    scratch_[o].resize(static_cast<size_t>(shape_numel(s)) * dtype_size(g.output_type(o)));
    outs_[o] = scratch_[o].data();
  }
  if (!g.nodes.empty()) {
    if (shaped)
      backend_.run_shaped(shapes_, ptrs_, outs_);
    else
      backend_.run(rows, ptrs_, outs_);
  }
  for (size_t j = 0; j < stage_.sends.size(); ++j)
    if (stage_.send_from[j] < 0) {
      const size_t from = static_cast<size_t>(-1 - stage_.send_from[j]);
      std::memcpy(msg.value(j), in[from], msg.value_bytes(j));
    }
}

RankStats serve_stage(const StageServe& s) {
  RankStats st;
  st.stage = s.stage;
  const int prev = s.stage - 1, next = (s.stage + 1) % s.stages;
  const size_t in_cap = s.in.capacity(s.batch), out_cap = s.out.capacity(s.batch);
  HostBuffer rbuf[2] = {s.backend->host_buffer(in_cap), s.backend->host_buffer(in_cap)};
  HostBuffer sbuf[2] = {s.backend->host_buffer(out_cap), s.backend->host_buffer(out_cap)};
  MPI_Request rreq[2], sreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  for (int i = 0; i < 2; ++i)
    MGI_MPI(MPI_Irecv(rbuf[i].get(), static_cast<int>(in_cap), MPI_BYTE, prev, pipe::kTag, s.group, &rreq[i]));
  StageRunner runner(*s.backend, *s.stage_def, s.out);
  const pipe::ProgressThread progress(s.group);
  std::vector<const void*> in;
  std::vector<Shape> in_shapes;
  std::string failure;  // once set, every later micro-batch is answered with it
  int failure_code = 0;
  int next_slot = 0;
  int64_t served = 0;
  Clock::time_point first{}, last{};
  int stop_code = 0;
  for (;;) {
    const auto t0 = Clock::now();
    pipe::wait_polling(&rreq[next_slot]);
    const auto t1 = Clock::now();
    pipe::Message msg(rbuf[next_slot].get(), s.in);
    if (served > 0 && msg.kind() != pipe::kStop) {  // before the first and after the last: not the pipeline's
      st.stage_idle_s += std::chrono::duration<double>(t1 - t0).count();
      if (Trace::enabled()) Trace::record("stage-wait", t0, t1);
    }
    const int slot = next_slot;
    next_slot ^= 1;
    if (msg.kind() == pipe::kStop) {
      stop_code = msg.exit_code();
      for (MPI_Request& r : sreq) MGI_MPI(MPI_Wait(&r, MPI_STATUS_IGNORE));
      pipe::Message out(sbuf[0].get(), s.out);
      out.set_stop(stop_code);
      MGI_MPI(MPI_Send(sbuf[0].get(), static_cast<int>(out.size()), MPI_BYTE, next, pipe::kTag, s.group));
      MGI_MPI(MPI_Cancel(&rreq[next_slot]));
      MGI_MPI(MPI_Wait(&rreq[next_slot], MPI_STATUS_IGNORE));
      break;
    }
    if (served == 0) first = t1;
    MGI_MPI(MPI_Wait(&sreq[slot], MPI_STATUS_IGNORE));  // the buffer's previous message is out
    pipe::Message out(sbuf[slot].get(), s.out);
    const auto c0 = Clock::now();
    if (failure.empty() && msg.kind() == pipe::kError) {
      out.set_error(msg.id(), msg.exit_code(), msg.text());
    } else if (!failure.empty()) {
      out.set_error(msg.id(), failure_code, failure);
    } else {
      try {
        if (injected_failure(s.world_rank, served)) throw RuntimeError("injected failure (MGI_DEBUG_FAIL_RANK)");
        in.resize(s.in.types.size());
        in_shapes.resize(s.in.types.size());
        for (size_t j = 0; j < in.size(); ++j) {
          in[j] = msg.value(j);
          in_shapes[j] = msg.shape(j);
        }
        runner.run(msg.id(), msg.rows(), msg.shaped(), in, in_shapes, out);
      } catch (const std::exception& e) {
        failure = "stage " + std::to_string(s.stage + 1) + " of " + std::to_string(s.stages) + " [rank " +
                  std::to_string(s.world_rank) + " on " + s.host + "]: " + e.what();
        const Error* err = dynamic_cast<const Error*>(&e);
        failure_code = static_cast<int>(err ? err->code() : Exit::runtime);
        out.set_error(msg.id(), failure_code, failure);
      }
      st.stage_busy_s += elapsed_span("stage", c0);
      st.batches += 1;
    }
    MGI_MPI(MPI_Isend(sbuf[slot].get(), static_cast<int>(out.size()), MPI_BYTE, next, pipe::kTag, s.group, &sreq[slot]));
    MGI_MPI(MPI_Irecv(rbuf[slot].get(), static_cast<int>(in_cap), MPI_BYTE, prev, pipe::kTag, s.group, &rreq[slot]));
    ++served;
    last = Clock::now();
  }
  st.compute_s = st.stage_busy_s;
  st.idle_s = st.stage_idle_s;
  st.total_s = served > 0 ? std::chrono::duration<double>(last - first).count() : 0.0;
  if (stop_code != 0) throw PeerFailure(static_cast<Exit>(stop_code));
  return st;
}

}  // namespace mgi
