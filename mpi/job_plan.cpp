// The job's plan: how the rows are split (static slices and gather windows, or
// the dynamic task list), the batch size, and the plan rank 0 prints.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <functional>

#include "batch_runner.hpp"
#include "error_sync.hpp"
#include "job_internal.hpp"
#include "mpi_handles.hpp"
#include "run_info.hpp"
#include "static_run.hpp"

namespace mgi {

namespace {

// Ranks on this node whose backends describe themselves alike draw from the
// same memory: one GPU (allow_gpu_sharing), or the host for the CPU backend.
int ranks_sharing(const std::string& device, MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL, same = MPI_COMM_NULL;
  MGI_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  Comm node_comm(node);
  const int color = static_cast<int>(std::hash<std::string>{}(device) & 0x7fffffff);
  MGI_MPI(MPI_Comm_split(node, color, 0, &same));
  Comm same_comm(same);
  int n = 1;
  MGI_MPI(MPI_Comm_size(same, &n));
  return n;
}

// "" for float32 outputs (as before outputs were typed); else " int64", or
// " bool (stored as uint8)" where the file holds another type.
std::string output_type_note(DType t) {
  if (t == DType::f32) return "";
  const DType stored = stored_type(t);
  return std::string(" ") + dtype_name(t) + (stored == t ? "" : std::string(" (stored as ") + dtype_name(stored) + ")");
}

}  // namespace

// Static: contiguous slices by rows (or by cost with input.cost) and gather
// windows. Dynamic: the task list. Deterministic, so every rank computes the
// same plan without communication.
void Job::plan_work() {
  const int64_t n = todo_.count();  // virtual rows: those not in the journal yet
  const PrefixCost prefix = todo_.virtual_prefix(prefix_from_costs(cost_prefix_.empty() ? nullptr : &cost_prefix_));
  slices_ = cost_prefix_.empty() ? split_rows(n, work_size_) : split_by_cost(n, work_size_, prefix);
  gather_ = plan_gather(slices_, io_.output_row_bytes, cfg_.runtime.gather_window_bytes);
  int64_t largest = 0;
  for (const auto& s : slices_) largest = std::max(largest, s.rows());
  if (dynamic()) {
    // One task's results must fit the rank-0 memory bound.
    max_task_rows_ = std::max<int64_t>(1, cfg_.runtime.gather_window_bytes / io_.output_row_bytes);
    max_task_rows_ = std::min<int64_t>(max_task_rows_, INT_MAX);
    ScheduleOptions o;
    // Each rank holds a task and one prefetched: 2 tasks per rank in flight.
    // Factoring for `size` workers would let a rank take two first-round
    // chunks (its whole share) before others start, leaving nothing to balance.
    o.workers = 2 * work_size_;
    o.chunk_rows = cfg_.dynamic.chunk_rows;
    o.min_chunk_rows = cfg_.dynamic.min_chunk_rows;
    o.max_chunk_rows = max_task_rows_;
    // Tasks are cut over the virtual rows, then split where the journal has
    // holes, so each task is one contiguous physical range.
    std::vector<Task> physical;
    for (const Task& t : cut_tasks(n, prefix, o))
      for (const RowRange& r : todo_.physical(t.begin, t.end))
        physical.push_back({static_cast<int64_t>(physical.size()), r.begin, r.end, 0.0});
    tasks_ = std::move(physical);
    largest = 0;
    for (const auto& t : tasks_) largest = std::max(largest, t.rows());
    max_task_rows_ = std::max<int64_t>(1, largest);
  }
  const int sharing = cfg_.runtime.batch_size_auto ? ranks_sharing(backend_->describe(), comm_) : 1;
  collectively(comm_, [&] { choose_batch(largest, sharing); });
}

// runtime.batch_size, or for `auto` the rule of batch_size.hpp on this rank's
// memory: activations from shape inference (an upper bound, refined from the
// backend's own plan in prepare_backend()) plus the pipeline's copies of a row.
void Job::choose_batch(int64_t rows, int sharing) {
  if (io_.fixed_batch > 0) {  // the model decides
    batch_ = io_.fixed_batch;
    return;
  }
  if (!cfg_.runtime.batch_size_auto) {
    batch_ = cfg_.runtime.batch_size;
    return;
  }
  const MemoryInfo mem = backend_->memory_info();
  const ActivationSize act = activation_size(graph_, io_.input_rows);
  const int depth = backend_->pipeline_depth();
  const int64_t in_row = io_.input_row_bytes;
  const int64_t out_row = io_.output_row_bytes;
  AutoBatchInput& in = auto_in_;
  in.device = mem.device;
  in.free_bytes = mem.free_bytes;
  in.total_bytes = mem.total_bytes;
  in.sharing = sharing;
  in.rows = rows;
  if (mem.device) {  // weights (plus room for converted copies) and the lanes' inputs and outputs on the GPU
    weight_bytes_ = graph_.parameter_count * static_cast<int64_t>(sizeof(float)) * 3 / 2;
    in.fixed_bytes = weight_bytes_ + act.fixed;
    in.row_bytes = act.per_row + depth * (io_.all_input_row_bytes + out_row);
    const MemoryInfo host = host_memory_info();  // the pinned read-ahead ring and output staging
    in.host_budget_bytes = host.free_bytes / 4 / std::max(1, topo_.local_size);
    in.host_row_bytes = BatchRunner::ring_slots(depth) * io_.all_input_row_bytes + depth * out_row;
  } else {
    in.row_bytes = act.per_row + BatchRunner::ring_slots(depth) * io_.all_input_row_bytes;
    if (io_.ragged) in.row_bytes += 2 * BatchRunner::kRaggedGroupBatches * in_row;  // groups read ahead
  }
  auto_out_ = auto_batch(in);
  batch_ = auto_out_.rows;
}

// prepare() for the chosen batch. For `auto`: an out-of-memory halves the
// batch (down to 1 row), and where the backend can plan its own buffers
// (CUDA) the batch grows to what that plan says fits.
void Job::prepare_backend() {
  collectively(comm_, [&] {
    const bool is_auto = cfg_.runtime.batch_size_auto && io_.fixed_batch == 0;
    batch_ = prepare_batch(*backend_, graph_, io_.input_rows, batch_, is_auto);
    if (!is_auto || batch_ != auto_out_.rows || batch_ < 2) return;
    const int64_t big = backend_->planned_bytes(batch_), one = backend_->planned_bytes(1);
    if (big < 0 || one < 0 || big <= one) return;
    AutoBatchInput in = auto_in_;
    in.row_bytes = (big - one + batch_ - 2) / (batch_ - 1);  // rounded up
    in.fixed_bytes = weight_bytes_ + std::max<int64_t>(0, one - in.row_bytes);
    const AutoBatch planned = auto_batch(in);
    if (planned.rows < batch_ + batch_ / 4) return;  // not worth a second prepare
    batch_ = prepare_batch(*backend_, graph_, io_.input_rows, planned.rows, true);
    auto_in_ = in;
    auto_out_ = planned;
  });
}

// The data input's dtype in the file and, when they differ, the model input's it
// is read as: "uint8 -> float32"; ragged input with a mask adds the mask's type.
std::string Job::input_dtype_line() const {
  const DType model = graph_.input_type(static_cast<size_t>(io_.data_input));
  const InputDescription& in = inputs_[static_cast<size_t>(std::max(0, io_.feeds[static_cast<size_t>(io_.data_input)].source))];
  std::string s = in.dtype;
  if (s != dtype_name(model)) s += std::string(" -> ") + dtype_name(model);
  if (io_.mask_input >= 0)
    s += std::string(" (mask ") + dtype_name(graph_.input_type(static_cast<size_t>(io_.mask_input))) + ")";
  return s;
}

void Job::print_plan() {
  RankInfo me{topo_.rank, topo_.host, topo_.local_rank, backend_->describe(), -1, -1, -1,
              topo_.binding.summary, device_note_};
  if (leader() && !dynamic()) {  // dynamic: decided at run time; a stage rank: its leader's rows
    const Slice& mine = slices_[static_cast<size_t>(work_rank_)];
    me.first_row = mine.begin;
    me.rows = mine.rows();
    me.batches = static_batches(mine, gather_, batch_);
  }
  if (stages_ > 1) {
    me.stage = stage_;
    me.weight_bytes = split_->stages[static_cast<size_t>(stage_)].weight_bytes;
    me.activation_bytes = activation_bytes_;
    me.buffer_bytes = buffer_bytes_;
  }
  ranks_ = gather_rank_info(me, world_);
  if (topo_.rank != 0) return;
  if (!topo_.binding_warning.empty()) std::fprintf(stderr, "mgi-mpi: warning: %s\n", topo_.binding_warning.c_str());
  PlanSummary& p = plan_;
  p.mode = cfg_.mode;
  p.input = cfg_.input.datasets.size() == 1 ? cfg_.input.file + ":" + cfg_.input.dataset : cfg_.input.file;
  p.inputs = describe_inputs(graph_, io_, inputs_);
  p.padding = describe_padding(graph_, io_);
  p.model = cfg_.model.file + " (opset " + std::to_string(graph_.opset) + ", " +
            std::to_string(graph_.nodes.size()) + " nodes, " + std::to_string(graph_.parameter_count) +
            " parameters, sha256 " + model_sha_.substr(0, 12) + ")";
  p.output = cfg_.output.file;
  p.rows = rows();
  p.input_shape = shape_str(inputs_.front().shape);
  if (io_.ragged) {
    Shape rows_of = io_.token_shape;
    rows_of.insert(rows_of.begin(), {rows(), io_.ragged->max_length});
    p.input_shape = "ragged " + shape_str(rows_of) + " (seq <= " + std::to_string(io_.ragged->max_length) +
                    (io_.vlen ? "; variable-length rows)" : "; values " + p.input_shape + ", offsets " +
                                                                cfg_.input.offsets + ")");
  }
  p.input_dtype = input_dtype_line();
  for (size_t d = 0; d < io_.outputs.size(); ++d)
    p.outputs.push_back(graph_.output_name(io_.graph_output[d]) + " -> " + io_.outputs[d].path + " " +
                        shape_str(io_.outputs[d].row_shape) + output_type_note(io_.outputs[d].dtype) + " per row");
  p.batch_size = batch_;
  p.batch_note = "";
  if (io_.fixed_batch > 0) {
    const size_t k = [&] {
      for (size_t i = 0; i < graph_.inputs.size(); ++i)
        if (!graph_.input_shapes[i].empty() && graph_.input_shapes[i][0] > 0) return i;
      return size_t{0};
    }();
    p.batch_note = " (fixed by the model: input '" + graph_.input_name(k) + "' is " +
                   shape_str(graph_.input_shapes[k]) + (cfg_.runtime.batch_size_auto || cfg_.runtime.batch_size != batch_
                   ? std::string("; runtime.batch_size ignored") : std::string()) +
                   "; a short last batch is filled with copies of its last row, whose outputs are dropped, so "
                   "every row computes as if alone)";
  } else if (cfg_.runtime.batch_size_auto) {
    p.batch_note = " (" + auto_batch_note(auto_in_, auto_out_);
    if (batch_ != auto_out_.rows)
      p.batch_note += "; out of memory at " + std::to_string(auto_out_.rows) + " rows, halved to " +
                      std::to_string(batch_);
    p.batch_note += ")";
  }
  p.split = cost_prefix_.empty()      ? "rows"
            : cfg_.input.cost.empty() ? "row length (" + (vlen_ ? vlen_->dataset() : cfg_.input.offsets) + ")"
                                      : "cost (" + cfg_.input.cost + ")";
  if (dynamic()) {
    p.tasks = static_cast<int64_t>(tasks_.size());
    p.largest_task = tasks_.empty() ? 0 : tasks_.front().rows();
    p.smallest_task = tasks_.empty() ? 0 : tasks_.back().rows();
    p.window_bytes = max_task_rows_ * io_.output_row_bytes;
  } else {
    p.window_rows = gather_.rows_per_window;
    p.windows = gather_.windows;
    p.window_bytes = gather_.window_bytes;
  }
  p.nodes = topo_.nodes;
  p.ranks = ranks_;
  p.resume = checkpoint_->describe();
  if (stages_ > 1)
    p.stages = stage_lines();
  else if (!pipeline_note_.empty())
    p.stages = {"stages  1: " + pipeline_note_};
  std::fputs(format_plan(p).c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace mgi
