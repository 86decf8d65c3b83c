// Pipeline stages (runtime.pipeline_stages = K > 1): the job's side of them.
// Ranks form groups of K consecutive world ranks, one replica each; rank s of
// a group holds stage s. The stage 0 ranks ("leaders") run static or dynamic
// mode over their own communicator exactly as single ranks do without stages,
// through a PipelineBackend; the other ranks serve their stage
// (pipeline_stage.hpp) until their leader stops them.
#include <algorithm>

#include "error_sync.hpp"
#include "job_internal.hpp"
#include "mpi_handles.hpp"
#include "pipeline_memory.hpp"

namespace mgi {

namespace {
constexpr size_t kShellAbove = 64 * 1024;  // as split_graph(keep_stage) does for the other stages
}  // namespace

void Job::setup_pipeline() {
  work_rank_ = topo_.rank;
  work_size_ = topo_.size;
  stages_ = std::max(1, cfg_.runtime.pipeline_stages);
  const bool is_auto = cfg_.runtime.pipeline_stages_auto;
  // With `auto` or a memory_limit the stages are checked against this rank's
  // memory (pipeline_memory.hpp): `auto` takes the fewest that fit, a given K
  // that does not fit is refused before any work, naming the K that would.
  std::unique_ptr<PipelinePlan> planned;
  collectively(world_, [&] {
    if (!is_auto && cfg_.runtime.memory_limit <= 0) return;
    const MemoryInfo mem = backend_->memory_info();
    PipelineMemoryInput in;
    // The CPU backend's free memory is already bounded by the limit; the host's
    // is shared by the node's ranks.
    in.free_bytes = mem.device ? mem.free_bytes : host_memory_info().free_bytes / std::max(1, topo_.local_size);
    in.memory_limit = cfg_.runtime.memory_limit;
    in.batch = io_.fixed_batch > 0 ? io_.fixed_batch : cfg_.runtime.batch_size_auto ? 1 : cfg_.runtime.batch_size;
    in.in_flight = 2;
    if (is_auto) {
      in.max_stages = topo_.size;
      planned = std::make_unique<PipelinePlan>(choose_pipeline_stages(graph_, io_.input_rows, in));
    } else {
      planned = std::make_unique<PipelinePlan>(plan_pipeline_stages(graph_, io_.input_rows, stages_, in));
    }
    if (!planned->fits) throw RuntimeError(planned->reason);
    pipeline_note_ = planned->reason;
    if (is_auto && topo_.size % planned->stages != 0) {
      // The fewest stages that fit may not divide the ranks: the next K that does.
      for (int k = planned->stages + 1; k <= topo_.size; ++k) {
        if (topo_.size % k != 0) continue;
        std::unique_ptr<PipelinePlan> wider;
        try {
          wider = std::make_unique<PipelinePlan>(plan_pipeline_stages(graph_, io_.input_rows, k, in));
        } catch (const ModelError&) {
          break;  // no more cuts: the refusal below names the K that fits
        }
        if (!wider->fits) continue;
        pipeline_note_ += "; " + std::to_string(k) + " stages, the fewest that fit and divide " +
                          std::to_string(topo_.size) + " ranks";
        planned = std::move(wider);
        break;
      }
    }
    stages_ = planned->stages;
  });
  if (stages_ == 1) return;
  const int64_t probe = io_.fixed_batch > 0 ? io_.fixed_batch : 1;
  stage_ = topo_.rank % stages_;
  collectively(world_, [&] {
    const int k = stages_, np = topo_.size;
    if (np % k != 0) {
      const int lower = np / k * k, upper = lower + k;
      throw ConfigError("runtime.pipeline_stages: " + std::to_string(k) + " stages per replica need a rank count "
                        "that is a multiple of " + std::to_string(k) + ", but the job has " + std::to_string(np) +
                        " rank(s); run with -np " + (lower > 0 ? std::to_string(lower) + " or " : std::string()) +
                        std::to_string(upper) + ", or set runtime.pipeline_stages to a divisor of " +
                        std::to_string(np) + (is_auto ? " (" + pipeline_note_ + ")" : ""));
    }
    // This rank's stage with its weights; the others' big weights as shells.
    split_ = std::make_unique<PipelineSplit>(split_graph(graph_, k, io_.input_rows, stage_));
    // The whole graph is only planned from now on (shapes, types, the batch
    // runner's row sizes): its big weights go, so the rank holds its own stage's only.
    for (Value& v : graph_.values)
      if (v.is_constant && v.data.bytes() > kShellAbove) {
        Tensor shell;
        shell.dtype = v.data.dtype;
        shell.shape = v.data.shape;
        v.data = std::move(shell);
      }
    const PipelineStage& st = split_->stages[static_cast<size_t>(stage_)];
    stage_in_ = link_values(graph_, st.receives, io_.input_rows, probe);
    stage_out_ = link_values(graph_, st.sends, io_.input_rows, probe);
  });
  const int group = topo_.rank / stages_;
  MPI_Comm g = MPI_COMM_NULL, l = MPI_COMM_NULL;
  MGI_MPI(MPI_Comm_split(world_, group, stage_, &g));
  group_ = Comm(g);
  MGI_MPI(MPI_Comm_split(world_, stage_ == 0 ? 0 : MPI_UNDEFINED, topo_.rank, &l));
  leaders_ = Comm(l);
  work_rank_ = group;
  work_size_ = topo_.size / stages_;
  comm_ = leader() ? leaders_.get() : MPI_COMM_NULL;
  if (leader()) {
    auto pb = std::make_unique<PipelineBackend>(std::move(backend_), *split_, graph_, group_.get(), probe);
    pipeline_ = pb.get();
    backend_ = std::move(pb);
  }
}

void Job::prepare_stage() {
  const PipelineStage& st = split_->stages[static_cast<size_t>(stage_)];
  const std::vector<Shape>& rows = st.input_rows;
  const ActivationSize a = activation_size(st.graph, rows);
  activation_bytes_ = a.fixed + a.per_row * batch_;
  if (leader()) {  // 2 K micro-batches out and their outputs back
    const int64_t probe = io_.fixed_batch > 0 ? io_.fixed_batch : 1;
    const pipe::LinkValues back = link_values(graph_, graph_.outputs, io_.input_rows, probe);
    buffer_bytes_ = 2 * stages_ * static_cast<int64_t>(stage_out_.capacity(batch_) + back.capacity(batch_));
    return;  // prepared by prepare_backend() through the PipelineBackend
  }
  buffer_bytes_ = 2 * static_cast<int64_t>(stage_in_.capacity(batch_) + stage_out_.capacity(batch_));
  if (!opts_.dry_run) backend_->prepare(st.graph, rows, batch_);
}

std::vector<std::string> Job::stage_lines() const {
  std::vector<std::string> lines;
  const int replicas = topo_.size / stages_;
  lines.push_back("stages  " + std::to_string(stages_) + " per replica (runtime.pipeline_stages), " +
                  std::to_string(replicas) + " replica(s) of " + std::to_string(stages_) +
                  " consecutive ranks; micro-batches of " + std::to_string(batch_) + " rows, up to " +
                  std::to_string(std::max(2, 2 * stages_)) + " in flight per replica");
  const std::vector<std::string> described = split_->describe();
  for (int s = 0; s < stages_; ++s) {
    lines.push_back("  " + described[static_cast<size_t>(s)]);
    std::string ranks;
    const RankInfo* any = nullptr;
    for (const RankInfo& r : ranks_)
      if (r.stage == s) {
        ranks += (ranks.empty() ? "" : ", ") + std::to_string(r.rank) + "@" + r.host;
        any = &r;
      }
    if (any)
      lines.push_back("    ranks " + ranks + ": " + any->device + "; per rank " + human_bytes(any->weight_bytes) +
                      " weights, " + human_bytes(any->activation_bytes) + " activations, " +
                      human_bytes(any->buffer_bytes) + " micro-batch buffers");
  }
  std::vector<int> spanning;
  for (int g = 0; g < replicas; ++g) {
    const size_t first = static_cast<size_t>(g * stages_);
    for (int s = 1; s < stages_; ++s)
      if (first + static_cast<size_t>(s) < ranks_.size() && ranks_[first + static_cast<size_t>(s)].host != ranks_[first].host) {
        spanning.push_back(g);
        break;
      }
  }
  if (!spanning.empty())
    lines.push_back("  note: " + std::to_string(spanning.size()) + " replica(s) span nodes (the first: ranks " +
                    std::to_string(spanning.front() * stages_) + "-" +
                    std::to_string(spanning.front() * stages_ + stages_ - 1) +
                    "): micro-batches cross the network; place " + std::to_string(stages_) +
                    " consecutive ranks per node (a multiple of " + std::to_string(stages_) + " ranks per node)");
  if (!pipeline_note_.empty()) lines.push_back("  memory " + pipeline_note_);
  lines.push_back("  transfer " + pipe::transfer_note(ranks_.empty() ? false : ranks_.front().device.rfind("cuda", 0) == 0));
  return lines;
}

}  // namespace mgi
