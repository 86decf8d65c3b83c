// Stage bounds of one mgi-mpi configuration: each pipeline stage timed alone,
// so bench/throughput.py can set the end-to-end rate against the slowest.
//
//   mgi-stage-bench CONFIG.yaml [--set k=v ...] [--rows N] [--repeat R] [--json FILE]
//
// Loads the config, model and input as mgi-mpi does (one process, no MPI
// launch: the reader opens HDF5 with the default driver, like `mgi-mpi
// inspect`), picks the backend runtime.device names (auto/cpu/cuda, with
// runtime.precision, threads and cuda_graphs), prepares it for
// runtime.batch_size and measures, as rows/s:
//   read     the first N rows (default: all) read batch by batch through the
//            DatasetReader into one Backend::host_buffer (page-locked on CUDA),
//            fastest of R passes after one warm pass (so: from the page cache);
//   h2d, compute, d2h
//            Backend::time_stages() on the dataset's first full batch after a
//            warm-up batch: the median batch of a pass of as many as fit in
//            about 0.5 s (5 to 100), fastest of R passes (the CPU backend copies
//            nothing: its h2d/d2h are 0 and do not bound anything).
// Ragged input (input.offsets): read = the values of groups of
// BatchRunner::kRaggedGroupBatches batches, one read each, as the batch runner
// reads them; compute = run_shaped() on every batch of the N rows, cut and
// padded as the runner does (length order within a group, each batch padded
// to its longest row), summed over the batches; the padding itself is timed
// apart (pad_s in the JSON, not a stage: the runner does it on the compute
// thread). Ragged input is CPU-only, so there are no copies.
// Prints one line per stage; --json writes them as one object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "backend.hpp"
#include "backend_options.hpp"
#include "batch_runner.hpp"
#include "config.hpp"
#include "cpu_threads.hpp"
#include "dataset_reader.hpp"
#include "device_select.hpp"
#include "error.hpp"
#include "graph.hpp"
#include "model_io.hpp"
#include "ragged.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Args {
  std::string config;
  std::vector<std::string> overrides;
  int64_t rows = 0;  // 0: the whole dataset
  int repeat = 5;
  std::string json;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "mgi-stage-bench: %s\nusage: mgi-stage-bench CONFIG.yaml [--set key=value ...] [--rows N] "
               "[--repeat R] [--json FILE]\n",
               why.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "-h" || k == "--help") usage("stage bounds (read, h2d, compute, d2h) of a config, in rows/s");
    if (k.rfind("--", 0) != 0) {
      if (!a.config.empty()) usage("one config file only (got '" + a.config + "' and '" + k + "')");
      a.config = k;
      continue;
    }
    if (i + 1 >= argc) usage("missing value for " + k);
    const char* v = argv[++i];
    if (k == "--set") a.overrides.push_back(v);
    else if (k == "--rows") a.rows = std::atoll(v);
    else if (k == "--repeat") a.repeat = std::atoi(v);
    else if (k == "--json") a.json = v;
    else usage("unknown option " + k);
  }
  if (a.config.empty()) usage("no config file");
  if (a.rows < 0 || a.repeat < 1) usage("--rows must be >= 0 and --repeat >= 1");
  return a;
}

std::string read_model_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw mgi::ModelError("model.file '" + path + "': cannot read (missing or unreadable)");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Stage {
  const char* name;
  double seconds = 0;  // fastest pass; 0: the stage does nothing on this backend
  int64_t rows = 0;    // rows the time is for
  double rows_s() const { return seconds > 0 ? double(rows) / seconds : std::numeric_limits<double>::infinity(); }
};

class StageBench {
 public:
  explicit StageBench(const Args& a);
  void run();
  void report() const;

 private:
  void open_backend();
  void fixed_stages();
  void ragged_stages();
  std::vector<void*> output_pointers(std::vector<std::vector<char>>& out, int64_t rows) const;

  Args args_;
  mgi::Config cfg_;
  mgi::Graph graph_;
  std::optional<mgi::DatasetReader> reader_;
  mgi::ModelIo io_;
  std::unique_ptr<mgi::Backend> backend_;
  std::vector<int64_t> out_bytes_;  // per graph output, one row in its type
  int64_t batch_ = 0, rows_ = 0;
  int threads_ = 0;
  Stage read_{"read"}, h2d_{"h2d"}, compute_{"compute"}, d2h_{"d2h"};
  double pad_s_ = 0;     // ragged: padding the compute stage's batches (not a stage)
  int64_t batches_ = 0;  // batches the compute time covers
  int stage_repeats_ = 0;  // time_stages() repeats (fixed-shape input)
};

StageBench::StageBench(const Args& a) : args_(a) {
  cfg_ = mgi::load_config(a.config, a.overrides);
  if (cfg_.runtime.batch_size_auto)
    throw mgi::ConfigError("runtime.batch_size: auto is not measured here; give the batch mgi-mpi's plan shows "
                           "(--set runtime.batch_size=N)");
  graph_ = mgi::load_onnx(read_model_file(cfg_.model.file), cfg_.model.file);
  reader_.emplace(cfg_.input.file, cfg_.input.dataset);
  const mgi::InputDescription in{cfg_.input.file, cfg_.input.dataset, reader_->dtype(), reader_->shape(), "", false};
  if (!cfg_.input.offsets.empty()) {
    if (cfg_.runtime.device == "cuda")
      throw mgi::ConfigError("input.offsets: ragged inputs are CPU-only in this version; set runtime.device: cpu");
    auto index = std::make_shared<const mgi::RaggedIndex>(
        mgi::read_ragged_index(cfg_.input.file, cfg_.input.offsets, reader_->rows()));
    io_ = mgi::match_model_ragged(graph_, cfg_.model.file, in, cfg_.input.offsets, std::move(index),
                                  cfg_.input.mask, cfg_.output.datasets);
  } else {
    io_ = mgi::match_model(graph_, cfg_.model.file, in, cfg_.output.datasets);
  }
  const int64_t all = io_.ragged ? io_.ragged->rows() : reader_->rows();
  rows_ = a.rows > 0 ? std::min(a.rows, all) : all;
  if (rows_ < 1) throw mgi::DataError("input dataset '" + cfg_.input.dataset + "' in '" + cfg_.input.file +
                                      "' has no rows");
  batch_ = std::min(cfg_.runtime.batch_size, rows_);
  std::vector<mgi::Shape> ones = io_.input_rows;
  for (mgi::Shape& one : ones) one.insert(one.begin(), 1);
  const std::vector<mgi::Shape> shapes = graph_.infer_shapes(ones);
  for (size_t k = 0; k < graph_.outputs.size(); ++k)
    out_bytes_.push_back(mgi::shape_numel(shapes[static_cast<size_t>(graph_.outputs[k])]) *
                         static_cast<int64_t>(mgi::dtype_size(graph_.output_type(k))));
  open_backend();
}

// The device choice of one rank alone on its node, as mgi-mpi makes it.
void StageBench::open_backend() {
  char host[256] = "?";
  gethostname(host, sizeof host - 1);
  const bool cpu_only = cfg_.runtime.device == "cpu" || io_.ragged;
  const mgi::DeviceRequest req{cfg_.runtime.device, 0, 1, cpu_only ? 0 : mgi::cuda_device_count(),
                               cfg_.runtime.gpu_ids, cfg_.runtime.allow_gpu_sharing, host, {}, "", {}};
  const mgi::BackendOptions bo = mgi::backend_options(cfg_);
  const mgi::DeviceChoice dev = mgi::choose_device(req);
  threads_ = mgi::cpu_threads(cfg_.runtime.threads, mgi::affinity_cpu_count(),
                              static_cast<int>(std::thread::hardware_concurrency()), 1)
                 .threads;
  backend_ = dev.cuda ? mgi::make_cuda_backend(dev.device, bo) : mgi::make_cpu_backend(threads_, bo);
  mgi::prepare_batch(*backend_, graph_, io_.input_rows, batch_, false);
}

std::vector<void*> StageBench::output_pointers(std::vector<std::vector<char>>& out, int64_t rows) const {
  out.resize(out_bytes_.size());
  std::vector<void*> p;
  for (size_t k = 0; k < out.size(); ++k) {
    out[k].resize(static_cast<size_t>(rows * out_bytes_[k]));
    p.push_back(out[k].data());
  }
  return p;
}

void StageBench::run() { io_.ragged ? ragged_stages() : fixed_stages(); }

void StageBench::fixed_stages() {
  const mgi::DType type = graph_.input_type(0);  // rows are read converted to it, as the runner reads them
  mgi::HostBuffer buf = backend_->host_buffer(static_cast<size_t>(batch_ * io_.input_row_bytes));
  auto pass = [&] {
    for (int64_t at = 0; at < rows_; at += batch_)
      reader_->read_rows(at, std::min(batch_, rows_ - at), type, buf.get());
  };
  pass();  // warm: the timed passes read from the page cache
  read_ = {"read", std::numeric_limits<double>::infinity(), rows_};
  for (int r = 0; r < args_.repeat; ++r) {
    const auto t0 = Clock::now();
    pass();
    read_.seconds = std::min(read_.seconds, since(t0));
  }
  // One full batch of real rows (the last pass ended elsewhere: read the first again).
  reader_->read_rows(0, batch_, type, buf.get());
  std::vector<std::vector<char>> out;
  const std::vector<void*> outputs = output_pointers(out, batch_);
  const std::vector<const void*> inputs{buf.get()};
  const auto t0 = Clock::now();
  backend_->run(batch_, inputs, outputs);  // warm-up (CUDA graphs: the capture)
  // A stage's bound is its median batch over a pass of as many batches as fit
  // in about half a second (at most 100), fastest of R passes, as end to end is
  // the fastest of R runs: the median, since end to end averages every batch
  // (the fastest single batch would set a bound no run keeps up); R passes,
  // since one pass of a fraction of a second can fall on a disturbed moment.
  stage_repeats_ = static_cast<int>(std::clamp(0.5 / std::max(since(t0), 1e-6), 5.0, 100.0));
  const double inf = std::numeric_limits<double>::infinity();
  double best_h2d = inf, best_compute = inf, best_d2h = inf;
  for (int pass = 0; pass < args_.repeat; ++pass) {
    std::vector<double> h2d, compute, d2h;
    for (int r = 0; r < stage_repeats_; ++r) {
      const mgi::Backend::StageTimes t = backend_->time_stages(batch_, inputs, outputs, 1);
      h2d.push_back(t.h2d_s);
      compute.push_back(t.compute_s);
      d2h.push_back(t.d2h_s);
    }
    best_h2d = std::min(best_h2d, median(h2d));
    best_compute = std::min(best_compute, median(compute));
    best_d2h = std::min(best_d2h, median(d2h));
  }
  h2d_ = {"h2d", best_h2d, batch_};
  compute_ = {"compute", best_compute, batch_};
  d2h_ = {"d2h", best_d2h, batch_};
  batches_ = 1;
}

void StageBench::ragged_stages() {
  const mgi::RaggedIndex& ix = *io_.ragged;
  const size_t data = static_cast<size_t>(io_.data_input);
  const mgi::DType type = graph_.input_type(data);
  const mgi::DType mask_type = io_.mask_input >= 0 ? graph_.input_type(static_cast<size_t>(io_.mask_input))
                                                   : mgi::DType::f32;
  const int64_t tok_bytes = mgi::shape_numel(io_.token_shape) * static_cast<int64_t>(mgi::dtype_size(type));
  const int64_t group = batch_ * mgi::BatchRunner::kRaggedGroupBatches;
  std::vector<char> values;
  auto read_group = [&](int64_t g0, int64_t g1) {
    const int64_t v0 = ix.offsets[g0], v1 = ix.offsets[g1];
    values.resize(static_cast<size_t>((v1 - v0) * tok_bytes));
    reader_->read_rows(v0, v1 - v0, type, values.data());
  };
  auto read_pass = [&] {
    for (int64_t g0 = 0; g0 < rows_; g0 += group) read_group(g0, std::min(rows_, g0 + group));
  };
  read_pass();
  read_ = {"read", std::numeric_limits<double>::infinity(), rows_};
  for (int r = 0; r < args_.repeat; ++r) {
    const auto t0 = Clock::now();
    read_pass();
    read_.seconds = std::min(read_.seconds, since(t0));
  }

  // Compute: every batch as BatchRunner::ragged_group cuts and pads it.
  std::vector<char> input(static_cast<size_t>(batch_ * io_.input_row_bytes));
  std::vector<char> mask(io_.mask_input >= 0 ? static_cast<size_t>(batch_ * std::max<int64_t>(1, ix.max_length)) *
                                                   mgi::dtype_size(mask_type)
                                             : 0);
  std::vector<std::vector<char>> out;
  const std::vector<void*> outputs = output_pointers(out, batch_);
  std::vector<const void*> inputs(graph_.inputs.size());
  std::vector<mgi::Shape> shapes(graph_.inputs.size());
  inputs[data] = input.data();
  if (io_.mask_input >= 0) inputs[static_cast<size_t>(io_.mask_input)] = mask.data();
  auto compute_pass = [&](double& compute_s, double& pad_s, int64_t& batches) {
    compute_s = pad_s = 0;
    batches = 0;
    for (int64_t g0 = 0; g0 < rows_; g0 += group) {
      const int64_t g1 = std::min(rows_, g0 + group);
      read_group(g0, g1);
      const int64_t v0 = ix.offsets[g0];
      const std::vector<int64_t> order = mgi::length_order(ix, g0, g1);
      for (size_t b = 0; b < order.size(); b += static_cast<size_t>(batch_)) {
        auto t0 = Clock::now();
        const int64_t n = std::min<int64_t>(batch_, static_cast<int64_t>(order.size() - b));
        const int64_t seq = mgi::pad_ragged_batch(ix, values.data(), v0, order, b, n, tok_bytes, input.data(),
                                                  mask_type, mask.empty() ? nullptr : mask.data());
        shapes[data] = {n, seq};
        for (int64_t d : io_.token_shape) shapes[data].push_back(d);
        if (io_.mask_input >= 0) shapes[static_cast<size_t>(io_.mask_input)] = {n, seq};
        pad_s += since(t0);
        t0 = Clock::now();
        backend_->run_shaped(shapes, inputs, outputs);
        compute_s += since(t0);
        ++batches;
      }
    }
  };
  double c = 0, p = 0;
  compute_pass(c, p, batches_);  // warm-up
  stage_repeats_ = args_.repeat;
  compute_ = {"compute", std::numeric_limits<double>::infinity(), rows_};
  pad_s_ = std::numeric_limits<double>::infinity();
  for (int r = 0; r < args_.repeat; ++r) {
    compute_pass(c, p, batches_);
    compute_.seconds = std::min(compute_.seconds, c);
    pad_s_ = std::min(pad_s_, p);
  }
  h2d_ = {"h2d", 0, rows_};
  d2h_ = {"d2h", 0, rows_};
}

void StageBench::report() const {
  const Stage* stages[] = {&read_, &h2d_, &compute_, &d2h_};
  const Stage* slowest = stages[0];
  for (const Stage* s : stages)
    if (s->rows_s() < slowest->rows_s()) slowest = s;
  std::printf("mgi-stage-bench: %s, batch %lld, %lld rows of %s:%s%s\n", backend_->describe().c_str(),
              static_cast<long long>(batch_), static_cast<long long>(rows_), cfg_.input.file.c_str(),
              cfg_.input.dataset.c_str(), io_.ragged ? " (ragged)" : "");
  nlohmann::json st = nlohmann::json::object();
  for (const Stage* s : stages) {
    if (s->seconds > 0) {
      const std::string how = s == &read_ || io_.ragged
                                  ? "fastest of " + std::to_string(args_.repeat) + " passes"
                                  : "median of " + std::to_string(stage_repeats_) + " batches, best of " +
                                        std::to_string(args_.repeat) + " passes";
      std::printf("  %-8s %14.0f rows/s  (%lld rows in %.6f s, %s)\n", s->name, s->rows_s(),
                  static_cast<long long>(s->rows), s->seconds, how.c_str());
    } else {
      std::printf("  %-8s %14s rows/s  (no copy on this backend)\n", s->name, "-");
    }
    st[s->name] = {{"seconds", s->seconds}, {"rows", s->rows},
                   {"rows_s", s->seconds > 0 ? nlohmann::json(s->rows_s()) : nlohmann::json(nullptr)}};
  }
  std::printf("  slowest  %s, %.0f rows/s\n", slowest->name, slowest->rows_s());
  if (args_.json.empty()) return;
  nlohmann::json j = {
      {"tool", "mgi-stage-bench"},
      {"config", args_.config},
      {"overrides", args_.overrides},
      {"device", backend_->describe()},
      {"precision", cfg_.runtime.precision},
      {"cuda_graphs", cfg_.runtime.cuda_graphs},
      {"threads", threads_},
      {"batch", batch_},
      {"rows", rows_},
      {"ragged", static_cast<bool>(io_.ragged)},
      {"repeat", args_.repeat},
      {"stage_repeats", stage_repeats_},
      {"compute_batches", batches_},
      {"stages", st},
      {"slowest", slowest->name},
      {"slowest_rows_s", slowest->rows_s()},
  };
  if (io_.ragged) j["pad_s"] = pad_s_;
  std::ofstream f(args_.json);
  f << j.dump(2) << "\n";
  if (!f) throw mgi::DataError("--json '" + args_.json + "': cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  try {
    StageBench bench(a);
    bench.run();
    bench.report();
    return 0;
  } catch (const mgi::Error& e) {
    std::fprintf(stderr, "mgi-stage-bench: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mgi-stage-bench: internal error: %s\n", e.what());
    return 5;
  }
}
