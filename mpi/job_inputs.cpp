// The job's first phase: config, model, input dataset, model/input match and
// device, each checked inside collectively() so a mistake on any rank stops
// every rank before the expensive work starts.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "backend_options.hpp"
#include "cpu_threads.hpp"
#include "device_select.hpp"
#include "error_sync.hpp"
#include "external_data.hpp"
#include "job_internal.hpp"
#include "mpi_handles.hpp"
#include "output_writer.hpp"
#include "ragged.hpp"
#include "sha256.hpp"
#include "vlen_reader.hpp"

namespace mgi {

namespace {

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

// output.writer: parallel writes rows in place (docs/DURABILITY.md): refused,
// with the reason, for an output that takes the journal-and-assemble path.
void check_parallel_writer(const Config& cfg, const std::vector<OutputDatasetSpec>& outputs) {
  const OutputOptions oo{cfg.output.compression, cfg.output.compression_level, cfg.output.chunk_rows};
  if (in_place_possible(outputs, oo)) return;
  std::string why = "this machine does not store float32 as little-endian IEEE";
  if (cfg.output.compression != "none")
    why = "output.compression is " + cfg.output.compression;
  else if (cfg.output.chunk_rows > 0)
    why = "output.chunk_rows is set";
  else
    for (const auto& o : outputs)
      if (stored_type(o.dtype) != o.dtype && o.dtype != DType::b8) {
        why = "output dataset '" + o.path + "' is " + dtype_name(o.dtype) + ", stored as " +
              dtype_name(stored_type(o.dtype)) + " (converted on write)";
        break;
      }
  throw ConfigError("output.writer: parallel needs rows written in place into the output file, but " + why +
                    "; use output.writer: gather (the default) for this output");
}

}  // namespace

// One reader per input.dataset entry: a variable-length dataset (ragged rows)
// or an ordinary [N, ...] dataset.
void Job::open_inputs() {
  readers_.clear();
  vlen_.reset();
  inputs_.clear();
  std::vector<int> reader_of;  // per entry: index into readers_, -1 for the vlen one
  for (const InputBinding& b : cfg_.input.datasets) {
    InputDescription d;
    d.file = cfg_.input.file;
    d.dataset = b.dataset;
    d.onnx_input = b.onnx_input;
    if (cfg_.input.offsets.empty() && !vlen_ && is_vlen_dataset(cfg_.input.file, b.dataset)) {
      vlen_.emplace(cfg_.input.file, b.dataset);
      d.dtype = vlen_->dtype();
      d.shape = {vlen_->rows()};
      d.vlen = true;
      reader_of.push_back(-1);
    } else {
      readers_.emplace_back(cfg_.input.file, b.dataset);
      d.dtype = readers_.back().dtype();
      d.shape = readers_.back().shape();
      reader_of.push_back(static_cast<int>(readers_.size()) - 1);
    }
    inputs_.push_back(std::move(d));
  }
  input_readers_ = InputReaders{};
  for (int r : reader_of) input_readers_.datasets.push_back(r >= 0 ? &readers_[static_cast<size_t>(r)] : nullptr);
  input_readers_.vlen = vlen_ ? &*vlen_ : nullptr;
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
    // Weights in external data files are read by every rank from the model's folder.
    graph_ = load_onnx(model_bytes_, cfg_.model.file, model_folder(cfg_.model.file));
    if (topo_.rank == 0) model_sha_ = sha256_hex(model_bytes_);
    open_inputs();
    if (cfg_.output.ragged)
      throw ConfigError("output.ragged: per-token (ragged) outputs are not supported in this version; "
                        "pool over the sequence so each row has a fixed-shape output");
    InputOptions opt;
    opt.offsets = cfg_.input.offsets;
    opt.mask = cfg_.input.mask;
    opt.fill = cfg_.input.fill;
    opt.pad_value = cfg_.input.pad_value;
    opt.padding_harmless = cfg_.input.padding_harmless;
    if (ragged()) {
      if (vlen_)
        opt.ragged = std::make_shared<const RaggedIndex>(vlen_->index());
      else
        opt.ragged = std::make_shared<const RaggedIndex>(
            read_ragged_index(cfg_.input.file, cfg_.input.offsets, readers_.front().rows()));
    }
    io_ = match_inputs(graph_, cfg_.model.file, inputs_, opt, cfg_.output.datasets);
    for (const auto& o : io_.outputs)
      if (o.path == cfg_.output.status)
        throw ConfigError("output.status: dataset '" + o.path + "' is also a prediction dataset; choose another "
                          "path for the per-row status flags");
    if (parallel_writer()) check_parallel_writer(cfg_, io_.outputs);
    if (topo_.rank == 0) check_output_path(cfg_.output.file, cfg_.input.file, opts_.overwrite);
    // The CUDA module is opened here (cuda_module.hpp), and only when CUDA may be used.
    const bool may_use_cuda = cfg_.runtime.device != "cpu";
    DeviceRequest req{cfg_.runtime.device, topo_.binding.pool_rank, topo_.binding.pool_ranks,
                      may_use_cuda ? cuda_device_count() : 0, cfg_.runtime.gpu_ids,
                      cfg_.runtime.allow_gpu_sharing, topo_.host, topo_.binding.slurm_gpus,
                      topo_.binding.slurm_gpus_var, {}};
    if (may_use_cuda && cuda_module().state == CudaModuleStatus::State::missing)
      req.cuda_missing = cuda_module().reason;
    const DeviceChoice dev = choose_device(req);
    device_note_ = dev.note;
    if (dev.cuda) {
      backend_ = make_cuda_backend(dev.device, backend_options(cfg_));
    } else {
      const CpuThreads t = cpu_threads(cfg_.runtime.threads, affinity_cpu_count(),
                                       static_cast<int>(std::thread::hardware_concurrency()), topo_.local_size);
      if (!t.warning.empty() && topo_.local_rank == 0)  // one line per node
        std::fprintf(stderr, "mgi-mpi: warning [rank %d on %s]: %s\n", topo_.rank, topo_.host.c_str(),
                     t.warning.c_str());
      backend_ = make_cpu_backend(t.threads, backend_options(cfg_));
    }
    if (ragged() && !backend_->supports_shaped())
      throw ConfigError(std::string(vlen_ ? "input.dataset: variable-length (ragged)" : "input.offsets: ragged") +
                        " inputs need a backend that runs changing shapes; " + backend_->describe() + " does not");
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
  setup_pipeline();
  leaders_phase([&] {
    open_checkpoint();
    plan_work();
  });
}

}  // namespace mgi
