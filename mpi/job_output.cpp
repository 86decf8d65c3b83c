// The journal at both ends of the job: rank 0 opens it (fresh or resume)
// before the plan, and at the end builds the output file from it.
#include <ctime>
#include <memory>

#include "error_sync.hpp"
#include "job_internal.hpp"
#include "mpi_check.hpp"
#include "input_fingerprint.hpp"
#include "output_writer.hpp"

namespace mgi {

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Rank 0 reads <output>.journal and decides fresh or resume; every rank gets
// the rows already done and works only on the rest.
void Job::open_checkpoint() {
  std::vector<int64_t> done;  // begin, end pairs
  collectively(comm_, [&] {
    if (topo_.rank != 0) return;
    RunFingerprint fp{model_sha_, cfg_.input.file, cfg_.input.dataset, inputs_.front().dtype, cfg_.input.offsets,
                      inputs_.front().shape, rows(), io_.outputs, {}};
    if (inputs_.size() > 1) {
      std::string all;
      for (const auto& in : inputs_)
        all += (all.empty() ? "" : "; ") + in.onnx_input + " <- " + in.dataset + " " + shape_str(in.shape) + " " +
               in.dtype;
      fp.extra["inputs"] = all;
    }
    std::string feeds;
    for (const auto& [name, value] : cfg_.input.fill)
      feeds += (feeds.empty() ? "" : "; ") + std::string("fill ") + name + "=" + std::to_string(value);
    if (io_.ragged && cfg_.input.pad_value != 0) feeds += (feeds.empty() ? "" : "; ") + std::string("pad_value=") +
                                                         std::to_string(cfg_.input.pad_value);
    if (io_.ragged && !io_.equal_length && io_.mask_input < 0) feeds += (feeds.empty() ? "" : "; ") + std::string("padded");
    fp.extra["feeds"] = feeds;
    // A changed weight file must be noticed: its size and modification time.
    std::string files;
    for (const auto& f : graph_.external_files)
      files += (files.empty() ? "" : "; ") + f.location + " " + std::to_string(f.size) + " bytes mtime " +
               std::to_string(f.mtime_ns);
    fp.extra["model_external_data"] = files;
    // The values themselves: a hash of a fixed sample of rows of every input
    // dataset (and of the offsets and cost datasets), so a resume notices an
    // input rewritten in place with the same shape.
    std::vector<std::string> sampled;
    for (const auto& in : inputs_) sampled.push_back(in.dataset);
    if (!cfg_.input.offsets.empty()) sampled.push_back(cfg_.input.offsets);
    if (!cfg_.input.cost.empty()) sampled.push_back(cfg_.input.cost);
    for (const auto& ds : sampled)
      if (!fp.extra.count(kInputDataKey + ds)) fp.extra[kInputDataKey + ds] = input_sample_digest(cfg_.input.file, ds);
    CheckpointOptions co{opts_.fresh, cfg_.checkpoint.flush_seconds, cfg_.output.on_nonfinite == "fail"};
    co.in_place = in_place_possible(
        io_.outputs, OutputOptions{cfg_.output.compression, cfg_.output.compression_level, cfg_.output.chunk_rows});
    co.status_dataset = cfg_.output.status;
    co.parallel_writer = parallel_writer();  // in place: checked in check_inputs()
    // A journal of the other kind (rows in it, or rows in the file) is not resumed.
    if (co.in_place) fp.extra["output_rows_in"] = "file";
    checkpoint_ = std::make_unique<Checkpoint>(cfg_.output.file, fp, co);
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

// output.writer: parallel: every rank opens rank 0's new or resumed
// .partial with MPI-IO (collective, after Checkpoint::open()).
void Job::open_parallel_output() {
  InPlaceLayout layout;
  if (topo_.rank == 0) layout = checkpoint_->layout();
  layout = bcast_layout(layout, io_.outputs.size(), comm_);
  collectively(comm_, [&] {
    parallel_ = std::make_unique<ParallelOutput>(comm_, partial_path(cfg_.output.file), layout, io_.outputs,
                                                 cfg_.output.on_nonfinite == "fail");
  });
}

// Collective: every rank's rows synced (MPI_File_sync) and the file closed,
// before rank 0 finishes it with HDF5 or syncs the journal on an interrupt.
void Job::close_parallel_output() {
  if (!parallel_) return;
  std::unique_ptr<ParallelOutput> p = std::move(parallel_);
  p->close();
}

// Rank 0 builds the HDF5 file from the journal (under a .partial name), marks
// it complete, renames it into place, and only then removes the journal.
void Job::finish_output(const std::string& started) {
  collectively(comm_, [&] {
    if (topo_.rank != 0) return;
    std::unique_ptr<OutputWriter> writer;
    if (checkpoint_->in_place()) {  // the rows are in the file: a flush, the attributes, the rename
      nonfinite_rows_ = checkpoint_->finish_in_place();
      writer = std::make_unique<OutputWriter>(cfg_.output.file, OutputWriter::Reopen{});
    } else {
      checkpoint_->sync();
      OutputOptions oo{cfg_.output.compression, cfg_.output.compression_level, cfg_.output.chunk_rows};
      writer = std::make_unique<OutputWriter>(cfg_.output.file, io_.outputs, rows(), oo);
      writer->add_row_flags(cfg_.output.status);
      nonfinite_rows_ = checkpoint_->assemble(*writer);
    }
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

}  // namespace mgi
