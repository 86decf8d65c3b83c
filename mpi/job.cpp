// The static-mode job from start to finish: every phase that can fail on one
// rank runs inside collectively(), so a bad config, file, model or device is
// reported once and all ranks stop before the expensive work starts.
#include "job.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "backend.hpp"
#include "batch_runner.hpp"
#include "batch_size.hpp"
#include "config.hpp"
#include "dataset_reader.hpp"
#include "device_select.hpp"
#include "error_sync.hpp"
#include "checkpoint.hpp"
#include "chunk_schedule.hpp"
#include "gather_plan.hpp"
#include "master_worker.hpp"
#include "model_io.hpp"
#include "mpi_handles.hpp"
#include "output_writer.hpp"
#include "partition.hpp"
#include "ragged.hpp"
#include "run_info.hpp"
#include "run_report.hpp"
#include "row_map.hpp"
#include "run_report_json.hpp"
#include "sha256.hpp"
#include "signals.hpp"
#include "static_run.hpp"
#include "topology.hpp"
#include "trace.hpp"

namespace mgi {

namespace {

std::string read_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ModelError("model.file '" + path + "': cannot read (missing or unreadable)");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Per-row cost for scheduling: input.cost ([N], finite, >= 0) as prefix sums.
std::vector<double> read_cost_prefix(const Config& cfg, int64_t rows) {
  DatasetReader cost(cfg.input.file, cfg.input.cost, "input.cost dataset");
  if (cost.shape() != Shape{rows})
    throw DataError("input.cost dataset '" + cfg.input.cost + "' in '" + cfg.input.file + "' has shape " +
                    shape_str(cost.shape()) + "; expected [" + std::to_string(rows) + "] (one cost per row)");
  std::vector<float> c(static_cast<size_t>(rows));
  cost.read_rows(0, rows, c.data());
  std::vector<double> prefix(static_cast<size_t>(rows) + 1, 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    if (!(c[i] >= 0) || !std::isfinite(c[i]))
      throw DataError("input.cost dataset '" + cfg.input.cost + "' row " + std::to_string(i) +
                      ": cost must be a finite number >= 0");
    prefix[i + 1] = prefix[i] + c[i];
  }
  return prefix;
}

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

class Job {
 public:
  Job(const CliOptions& opts, const Topology& topo, int thread_level)
      : opts_(opts), topo_(topo), thread_level_(thread_level) {}
  int run();

 private:
  void check_inputs();
  BackendOptions backend_options() const;
  void print_plan();
  void finish_output(const std::string& started);

  void plan_work();
  void choose_batch(int64_t rows, int sharing);
  void prepare_backend();
  void open_checkpoint();
  // Runs the compute phase; on an agreed interrupt (exit 75) rank 0 makes the
  // journal durable and says how to resume, and every rank leaves quietly.
  template <class F>
  RankStats run_interruptible(F&& f);
  bool dynamic() const { return cfg_.mode == "dynamic"; }
  bool ragged() const { return !cfg_.input.offsets.empty(); }
  int64_t rows() const { return io_.ragged ? io_.ragged->rows() : reader_->rows(); }

  const CliOptions& opts_;
  const Topology& topo_;
  int thread_level_;
  MPI_Comm comm_ = MPI_COMM_WORLD;
  Config cfg_;
  std::string model_bytes_, model_sha_;
  Graph graph_;
  std::optional<DatasetReader> reader_;
  ModelIo io_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Checkpoint> checkpoint_;  // rank 0
  RowMap todo_ = RowMap::all(0);              // rows still to compute
  std::vector<Slice> slices_;
  GatherPlan gather_;
  std::vector<double> cost_prefix_;  // empty: every row costs 1
  std::vector<Task> tasks_;          // dynamic mode (same list on every rank)
  int64_t max_task_rows_ = 1;
  int64_t batch_ = 1;
  AutoBatchInput auto_in_;  // batch_size: auto: what the rule saw, and what it chose
  AutoBatch auto_out_;
  int64_t weight_bytes_ = 0;
  std::vector<RankInfo> ranks_;
  PlanSummary plan_;
  int64_t nonfinite_rows_ = 0;  // rank 0, counted while assembling the output
};

BackendOptions Job::backend_options() const {
  BackendOptions bo;
  bo.precision = parse_precision(cfg_.runtime.precision);
  bo.cuda_graphs = cfg_.runtime.cuda_graphs;
  return bo;
}

void Job::check_inputs() {
  collectively(comm_, [&] {
    cfg_ = load_config(opts_.config_path, opts_.overrides);
    if (cfg_.mode == "dynamic" && thread_level_ < MPI_THREAD_MULTIPLE)
      throw RuntimeError("mode: dynamic needs MPI_THREAD_MULTIPLE, which this MPI library does not grant "
                         "(use mode: static)");
  });
  collectively(comm_, [&] {
    if (topo_.rank == 0) model_bytes_ = read_model_file(cfg_.model.file);
  });
  bcast_string(model_bytes_, 0, comm_);
  collectively(comm_, [&] {
    graph_ = load_onnx(model_bytes_, cfg_.model.file);
    if (topo_.rank == 0) model_sha_ = sha256_hex(model_bytes_);
    reader_.emplace(cfg_.input.file, cfg_.input.dataset);
    const InputDescription in{cfg_.input.file, cfg_.input.dataset, reader_->dtype(), reader_->shape()};
    if (cfg_.output.ragged)
      throw ConfigError("output.ragged: per-token (ragged) outputs are not supported in this version; "
                        "pool over the sequence so each row has a fixed-shape output");
    if (ragged()) {
      if (cfg_.runtime.device == "cuda")
        throw ConfigError("input.offsets: ragged inputs are CPU-only in this version; set runtime.device: cpu");
      auto index = std::make_shared<const RaggedIndex>(
          read_ragged_index(cfg_.input.file, cfg_.input.offsets, reader_->rows()));
      io_ = match_model_ragged(graph_, cfg_.model.file, in, cfg_.input.offsets, std::move(index), cfg_.input.mask,
                               cfg_.output.datasets);
    } else {
      if (!cfg_.input.mask.empty())
        throw ConfigError("input.mask: only used with ragged input (input.offsets)");
      io_ = match_model(graph_, cfg_.model.file, in, cfg_.output.datasets);
    }
    for (const auto& o : io_.outputs)
      if (o.path == cfg_.output.status)
        throw ConfigError("output.status: dataset '" + o.path + "' is also a prediction dataset; choose another "
                          "path for the per-row status flags");
    if (topo_.rank == 0) check_output_path(cfg_.output.file, cfg_.input.file, opts_.overwrite);
    DeviceRequest req{cfg_.runtime.device, topo_.binding.pool_rank, topo_.binding.pool_ranks,
                      cfg_.runtime.device == "cpu" || ragged() ? 0 : cuda_device_count(), cfg_.runtime.gpu_ids,
                      cfg_.runtime.allow_gpu_sharing, topo_.host, topo_.binding.slurm_gpus,
                      topo_.binding.slurm_gpus_var};
    const DeviceChoice dev = choose_device(req);
    if (dev.cuda) {
      backend_ = make_cuda_backend(dev.device, backend_options());
    } else {
      int threads = cfg_.runtime.threads;
      if (threads == 0)
        threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / topo_.local_size);
      backend_ = make_cpu_backend(threads, backend_options());
    }
  });
  model_bytes_.clear();
  model_bytes_.shrink_to_fit();
  collectively(comm_, [&] {
    if (!cfg_.input.cost.empty()) {
      cost_prefix_ = read_cost_prefix(cfg_, rows());
    } else if (io_.ragged) {  // a ragged row costs its length
      cost_prefix_.assign(io_.ragged->offsets.begin(), io_.ragged->offsets.end());
    }
  });
  open_checkpoint();
  plan_work();
}

// Rank 0 reads <output>.journal and decides fresh or resume; every rank gets
// the rows already done and works only on the rest.
void Job::open_checkpoint() {
  std::vector<int64_t> done;  // begin, end pairs
  collectively(comm_, [&] {
    if (topo_.rank != 0) return;
    RunFingerprint fp{model_sha_, cfg_.input.file, cfg_.input.dataset, reader_->dtype(), cfg_.input.offsets,
                      reader_->shape(), rows(), io_.outputs};
    std::vector<int64_t> floats;
    for (const auto& o : io_.outputs) floats.push_back(shape_numel(o.row_shape));
    checkpoint_ = std::make_unique<Checkpoint>(cfg_.output.file, fp, floats,
                                               CheckpointOptions{opts_.fresh, cfg_.checkpoint.flush_seconds,
                                                                 cfg_.output.on_nonfinite == "fail"});
    for (const auto& r : checkpoint_->done()) done.insert(done.end(), {r.begin, r.end});
  });
  int64_t count = static_cast<int64_t>(done.size());
  MGI_MPI(MPI_Bcast(&count, 1, MPI_INT64_T, 0, comm_));
  done.resize(static_cast<size_t>(count));
  if (count > 0) MGI_MPI(MPI_Bcast(done.data(), static_cast<int>(count), MPI_INT64_T, 0, comm_));
  std::vector<RowRange> ranges;
  for (size_t k = 0; k + 1 < done.size(); k += 2) ranges.push_back({done[k], done[k + 1]});
  todo_ = RowMap(missing_ranges(ranges, rows()));
}

// Static: contiguous slices by rows (or by cost with input.cost) and gather
// windows. Dynamic: the task list. Deterministic, so every rank computes the
// same plan without communication.
void Job::plan_work() {
  const int64_t n = todo_.count();  // virtual rows: those not in the journal yet
  const PrefixCost prefix = todo_.virtual_prefix(prefix_from_costs(cost_prefix_.empty() ? nullptr : &cost_prefix_));
  slices_ = cost_prefix_.empty() ? split_rows(n, topo_.size) : split_by_cost(n, topo_.size, prefix);
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
    o.workers = 2 * topo_.size;
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
  if (!cfg_.runtime.batch_size_auto) {
    batch_ = cfg_.runtime.batch_size;
    return;
  }
  const MemoryInfo mem = backend_->memory_info();
  const ActivationSize act = activation_size(graph_, io_.input_rows);
  const int depth = backend_->pipeline_depth();
  const int64_t in_row = io_.input_row_elements * static_cast<int64_t>(sizeof(float));
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
    in.row_bytes = act.per_row + depth * (in_row + out_row);
    const MemoryInfo host = host_memory_info();  // the pinned read-ahead ring and output staging
    in.host_budget_bytes = host.free_bytes / 4 / std::max(1, topo_.local_size);
    in.host_row_bytes = BatchRunner::ring_slots(depth) * in_row + depth * out_row;
  } else {
    in.row_bytes = act.per_row + BatchRunner::ring_slots(depth) * in_row;
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
    const bool is_auto = cfg_.runtime.batch_size_auto;
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

void Job::print_plan() {
  RankInfo me{topo_.rank, topo_.host, topo_.local_rank, backend_->describe(), slices_[topo_.rank].begin,
              slices_[topo_.rank].rows(), static_batches(slices_[topo_.rank], gather_, batch_),
              topo_.binding.summary};
  if (dynamic()) me.first_row = me.rows = me.batches = -1;  // decided at run time
  ranks_ = gather_rank_info(me, comm_);
  if (topo_.rank != 0) return;
  if (!topo_.binding_warning.empty()) std::fprintf(stderr, "mgi-mpi: warning: %s\n", topo_.binding_warning.c_str());
  PlanSummary& p = plan_;
  p.mode = cfg_.mode;
  p.input = cfg_.input.file + ":" + cfg_.input.dataset;
  p.model = cfg_.model.file + " (opset " + std::to_string(graph_.opset) + ", " +
            std::to_string(graph_.nodes.size()) + " nodes, " + std::to_string(graph_.parameter_count) +
            " parameters, sha256 " + model_sha_.substr(0, 12) + ")";
  p.output = cfg_.output.file;
  p.rows = rows();
  p.input_shape = shape_str(reader_->shape());
  if (io_.ragged) {
    Shape rows_of = io_.token_shape;
    rows_of.insert(rows_of.begin(), {rows(), io_.ragged->max_length});
    p.input_shape = "ragged " + shape_str(rows_of) + " (seq <= " + std::to_string(io_.ragged->max_length) +
                    "; values " + p.input_shape + ", offsets " + cfg_.input.offsets + ")";
  }
  p.input_dtype = reader_->dtype() + " -> float32";
  for (size_t d = 0; d < io_.outputs.size(); ++d)
    p.outputs.push_back(graph_.output_name(io_.graph_output[d]) + " -> " + io_.outputs[d].path + " " +
                        shape_str(io_.outputs[d].row_shape) + " per row");
  p.batch_size = batch_;
  p.batch_note = "";
  if (cfg_.runtime.batch_size_auto) {
    p.batch_note = " (" + auto_batch_note(auto_in_, auto_out_);
    if (batch_ != auto_out_.rows)
      p.batch_note += "; out of memory at " + std::to_string(auto_out_.rows) + " rows, halved to " +
                      std::to_string(batch_);
    p.batch_note += ")";
  }
  p.split = cost_prefix_.empty()      ? "rows"
            : cfg_.input.cost.empty() ? "row length (" + cfg_.input.offsets + ")"
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
  std::fputs(format_plan(p).c_str(), stdout);
  std::fflush(stdout);
}

// Rank 0 builds the HDF5 file from the journal (under a .partial name), marks
// it complete, renames it into place, and only then removes the journal.
void Job::finish_output(const std::string& started) {
  collectively(comm_, [&] {
    if (topo_.rank != 0) return;
    checkpoint_->sync();
    OutputOptions oo{cfg_.output.compression, cfg_.output.compression_level, cfg_.output.chunk_rows};
    auto writer = std::make_unique<OutputWriter>(cfg_.output.file, io_.outputs, rows(), oo);
    writer->add_row_flags(cfg_.output.status);
    nonfinite_rows_ = checkpoint_->assemble(*writer);
    std::string devices;
    for (const auto& r : ranks_)
      devices += (devices.empty() ? "" : "; ") + std::to_string(r.rank) + "@" + r.host + ": " + r.device;
    writer->set_attribute("tool", std::string("mgi-mpi"));
    writer->set_attribute("tool_version", std::string(MGI_VERSION));
    writer->set_attribute("model_file", cfg_.model.file);
    writer->set_attribute("model_sha256", model_sha_);
    writer->set_attribute("input_file", cfg_.input.file);
    writer->set_attribute("input_dataset", cfg_.input.dataset);
    writer->set_attribute("config", cfg_.resolved_text);
    writer->set_attribute("mode", cfg_.mode);
    writer->set_attribute("rows", rows());
    writer->set_attribute("ranks", static_cast<int64_t>(topo_.size));
    writer->set_attribute("devices", devices);
    writer->set_attribute("start_time", started);
    writer->set_attribute("end_time", utc_now());
    writer->set_attribute("nonfinite_rows", nonfinite_rows_);
    writer->finish();
    checkpoint_->remove_journal();
  });
}

template <class F>
RankStats Job::run_interruptible(F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    if (e.code() != Exit::interrupted) throw;
    if (topo_.rank == 0) {
      checkpoint_->sync();
      std::fprintf(stderr, "mgi-mpi: %s: stopped taking work; the journal %s is consistent; run the same "
                   "command again to resume (exit 75)\n", e.what()[0] ? e.what() : "interrupted",
                   journal_path(cfg_.output.file).c_str());
      std::fflush(stderr);
    }
    throw PeerFailure(Exit::interrupted);
  }
}

int Job::run() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string started = utc_now();
  check_inputs();
  start_grace_watchdog(cfg_.checkpoint.grace_seconds);
  if (!opts_.dry_run) prepare_backend();  // before the plan, which shows the batch it settled on
  print_plan();
  if (opts_.dry_run) {
    if (topo_.rank == 0) std::printf("dry run: config, input, model and devices check out; nothing computed\n");
    return 0;
  }
  if (!opts_.trace_path.empty()) {
    MGI_MPI(MPI_Barrier(comm_));  // a common time origin for every rank's spans
    Trace::enable(Trace::Clock::now());
  }
  std::unique_ptr<Progress> progress;
  collectively(comm_, [&] {
    if (topo_.rank == 0) {
      checkpoint_->open();
      progress = std::make_unique<Progress>(todo_.count(), opts_.progress_seconds);
      checkpoint_->set_progress(progress.get());
    }
  });
  RankStats stats;
  if (dynamic()) {
    DynamicRun run{comm_, topo_.rank, topo_.size, tasks_, max_task_rows_, batch_, &*reader_, backend_.get(),
                   &graph_, &io_, checkpoint_.get()};
    stats = run_interruptible([&] { return run_dynamic(run); });
  } else {
    StaticRun run{comm_, topo_.rank, &todo_, slices_, gather_, batch_, &*reader_, backend_.get(), &graph_, &io_,
                  checkpoint_.get()};
    stats = run_interruptible([&] { return run_static(run); });
  }
  if (progress) progress->finish();
  finish_output(started);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<RankStats> all = gather_rank_stats(stats, comm_);
  std::vector<TraceEvent> trace;
  if (!opts_.trace_path.empty()) trace = gather_trace(Trace::take(), comm_);
  if (topo_.rank == 0) {
    std::fputs(format_summary(ranks_, all, wall, cfg_.output.file).c_str(), stdout);
    if (nonfinite_rows_ > 0)
      std::printf("  %lld row(s) with NaN or infinite outputs, flagged 1 in %s\n",
                  static_cast<long long>(nonfinite_rows_), cfg_.output.status.c_str());
    std::fflush(stdout);
    // The output is complete by now: a report that cannot be written is a
    // warning, not a failed run.
    if (!opts_.trace_path.empty()) {
      std::vector<std::string> hosts;
      for (const auto& r : ranks_) hosts.push_back(r.host);
      try {
        write_text_file(opts_.trace_path, trace_json(trace, hosts));
      } catch (const Error& e) {
        std::fprintf(stderr, "mgi-mpi: warning: --trace: %s\n", e.what());
      }
    }
    if (!opts_.report_path.empty()) {
      try {
        write_text_file(opts_.report_path, report_json(plan_, all, wall, 0, cfg_.resolved_text));
      } catch (const Error& e) {
        std::fprintf(stderr, "mgi-mpi: warning: --report: %s\n", e.what());
      }
    }
  }
  return 0;
}

void print_error(const Topology& t, const std::string& what) {
  std::fprintf(stderr, "mgi-mpi: error [rank %d on %s]: %s\n", t.rank, t.host.c_str(), what.c_str());
  std::fflush(stderr);
}

}  // namespace

int run_job(const CliOptions& opts) {
  std::unique_ptr<MpiSession> mpi;
  try {
    mpi = std::make_unique<MpiSession>(MPI_THREAD_MULTIPLE, MPI_THREAD_FUNNELED);
  } catch (const Error& e) {
    std::fprintf(stderr, "mgi-mpi: error: %s\n", e.what());
    return e.exit_code();
  }
  Topology topo;
  try {
    topo = discover_topology(MPI_COMM_WORLD);
    install_signal_handlers();
    Job job(opts, topo, mpi->thread_level());
    return job.run();
  } catch (const PeerFailure& e) {
    return e.exit_code();
  } catch (const Error& e) {
    print_error(topo, e.what());
    if (!failure_was_agreed() && topo.size > 1) MPI_Abort(MPI_COMM_WORLD, e.exit_code());
    return e.exit_code();
  } catch (const std::exception& e) {
    print_error(topo, std::string("internal error: ") + e.what());
    if (!failure_was_agreed() && topo.size > 1) MPI_Abort(MPI_COMM_WORLD, 5);
    return 5;
  }
}

}  // namespace mgi
