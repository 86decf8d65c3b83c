// The static-mode job from start to finish: every phase that can fail on one
// rank runs inside collectively(), so a bad config, file, model or device is
// reported once and all ranks stop before the expensive work starts.
#include "job.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "backend.hpp"
#include "config.hpp"
#include "dataset_reader.hpp"
#include "device_select.hpp"
#include "error_sync.hpp"
#include "gather_plan.hpp"
#include "model_io.hpp"
#include "mpi_handles.hpp"
#include "output_writer.hpp"
#include "partition.hpp"
#include "run_info.hpp"
#include "run_report.hpp"
#include "sha256.hpp"
#include "static_run.hpp"
#include "topology.hpp"

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

int64_t choose_batch(const Config& cfg, int64_t slice_rows) {
  if (!cfg.runtime.batch_size_auto) return cfg.runtime.batch_size;
  return std::max<int64_t>(1, std::min<int64_t>(1024, slice_rows));
}

class Job {
 public:
  Job(const CliOptions& opts, const Topology& topo) : opts_(opts), topo_(topo) {}
  int run();

 private:
  void check_inputs();
  void print_plan();
  void finish_output(const std::string& started);

  const CliOptions& opts_;
  const Topology& topo_;
  MPI_Comm comm_ = MPI_COMM_WORLD;
  Config cfg_;
  std::string model_bytes_, model_sha_;
  Graph graph_;
  std::optional<DatasetReader> reader_;
  ModelIo io_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<OutputWriter> writer_;
  std::vector<Slice> slices_;
  GatherPlan gather_;
  int64_t batch_ = 1;
  std::vector<RankInfo> ranks_;
};

void Job::check_inputs() {
  collectively(comm_, [&] {
    cfg_ = load_config(opts_.config_path, opts_.overrides);
    if (cfg_.mode != "static")
      throw ConfigError("mode: '" + cfg_.mode + "' is not available in this version (use static)");
  });
  collectively(comm_, [&] {
    if (topo_.rank == 0) model_bytes_ = read_model_file(cfg_.model.file);
  });
  bcast_string(model_bytes_, 0, comm_);
  collectively(comm_, [&] {
    graph_ = load_onnx(model_bytes_, cfg_.model.file);
    if (topo_.rank == 0) model_sha_ = sha256_hex(model_bytes_);
    reader_.emplace(cfg_.input.file, cfg_.input.dataset);
    io_ = match_model(graph_, cfg_.model.file,
                      {cfg_.input.file, cfg_.input.dataset, reader_->dtype(), reader_->shape()},
                      cfg_.output.datasets);
    if (topo_.rank == 0) check_output_path(cfg_.output.file, cfg_.input.file, opts_.overwrite);
    DeviceRequest req{cfg_.runtime.device, topo_.local_rank, topo_.local_size,
                      cfg_.runtime.device == "cpu" ? 0 : cuda_device_count(), cfg_.runtime.gpu_ids,
                      cfg_.runtime.allow_gpu_sharing, topo_.host};
    const DeviceChoice dev = choose_device(req);
    if (dev.cuda) {
      backend_ = make_cuda_backend(dev.device);
    } else {
      int threads = cfg_.runtime.threads;
      if (threads == 0)
        threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / topo_.local_size);
      backend_ = make_cpu_backend(threads);
    }
  });
  model_bytes_.clear();
  model_bytes_.shrink_to_fit();
  slices_ = split_rows(reader_->rows(), topo_.size);
  gather_ = plan_gather(slices_, io_.output_row_bytes, cfg_.runtime.gather_window_bytes);
  int64_t largest = 0;
  for (const auto& s : slices_) largest = std::max(largest, s.rows());
  batch_ = choose_batch(cfg_, largest);
}

void Job::print_plan() {
  RankInfo me{topo_.rank, topo_.host, topo_.local_rank, backend_->describe(), slices_[topo_.rank].begin,
              slices_[topo_.rank].rows(), static_batches(slices_[topo_.rank], gather_, batch_)};
  ranks_ = gather_rank_info(me, comm_);
  if (topo_.rank != 0) return;
  PlanSummary p;
  p.mode = cfg_.mode;
  p.input = cfg_.input.file + ":" + cfg_.input.dataset;
  p.model = cfg_.model.file + " (opset " + std::to_string(graph_.opset) + ", " +
            std::to_string(graph_.nodes.size()) + " nodes, " + std::to_string(graph_.parameter_count) +
            " parameters, sha256 " + model_sha_.substr(0, 12) + ")";
  p.output = cfg_.output.file;
  p.rows = reader_->rows();
  p.input_shape = shape_str(reader_->shape());
  p.input_dtype = reader_->dtype() + " -> float32";
  for (size_t d = 0; d < io_.outputs.size(); ++d)
    p.outputs.push_back(graph_.output_name(io_.graph_output[d]) + " -> " + io_.outputs[d].path + " " +
                        shape_str(io_.outputs[d].row_shape) + " per row");
  p.batch_size = batch_;
  p.batch_note = cfg_.runtime.batch_size_auto ? " (auto)" : "";
  p.window_rows = gather_.rows_per_window;
  p.windows = gather_.windows;
  p.window_bytes = gather_.window_bytes;
  p.nodes = topo_.nodes;
  p.ranks = ranks_;
  std::fputs(format_plan(p).c_str(), stdout);
  std::fflush(stdout);
}

void Job::finish_output(const std::string& started) {
  collectively(comm_, [&] {
    if (topo_.rank != 0) return;
    std::string devices;
    for (const auto& r : ranks_)
      devices += (devices.empty() ? "" : "; ") + std::to_string(r.rank) + "@" + r.host + ": " + r.device;
    writer_->set_attribute("tool", std::string("mgi-mpi"));
    writer_->set_attribute("tool_version", std::string(MGI_VERSION));
    writer_->set_attribute("model_file", cfg_.model.file);
    writer_->set_attribute("model_sha256", model_sha_);
    writer_->set_attribute("input_file", cfg_.input.file);
    writer_->set_attribute("input_dataset", cfg_.input.dataset);
    writer_->set_attribute("config", cfg_.resolved_text);
    writer_->set_attribute("mode", cfg_.mode);
    writer_->set_attribute("rows", reader_->rows());
    writer_->set_attribute("ranks", static_cast<int64_t>(topo_.size));
    writer_->set_attribute("devices", devices);
    writer_->set_attribute("start_time", started);
    writer_->set_attribute("end_time", utc_now());
    writer_->finish();
  });
}

int Job::run() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string started = utc_now();
  check_inputs();
  print_plan();
  if (opts_.dry_run) {
    if (topo_.rank == 0) std::printf("dry run: config, input, model and devices check out; nothing computed\n");
    return 0;
  }
  collectively(comm_, [&] {
    if (topo_.rank == 0) {
      OutputOptions oo{cfg_.output.compression, cfg_.output.compression_level, cfg_.output.chunk_rows};
      writer_ = std::make_unique<OutputWriter>(cfg_.output.file, io_.outputs, reader_->rows(), oo);
    }
    backend_->prepare(graph_, io_.input_rows, batch_);
  });
  StaticRun run{comm_, topo_.rank, slices_, gather_, batch_, &*reader_, backend_.get(), &graph_, &io_,
                writer_.get()};
  const RankStats stats = run_static(run);
  finish_output(started);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<RankStats> all = gather_rank_stats(stats, comm_);
  if (topo_.rank == 0) {
    std::fputs(format_summary(ranks_, all, wall, cfg_.output.file).c_str(), stdout);
    std::fflush(stdout);
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
    mpi = std::make_unique<MpiSession>(MPI_THREAD_FUNNELED);
  } catch (const Error& e) {
    std::fprintf(stderr, "mgi-mpi: error: %s\n", e.what());
    return e.exit_code();
  }
  Topology topo;
  try {
    topo = discover_topology(MPI_COMM_WORLD);
    Job job(opts, topo);
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
