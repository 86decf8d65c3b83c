// The static-mode job from start to finish: every phase that can fail on one
// rank runs inside collectively(), so a bad config, file, model or device is
// reported once and all ranks stop before the expensive work starts.
// The class and its other phases: job_internal.hpp.
#include "job.hpp"

#include <chrono>
#include <cstdio>
#include <memory>

#include "error_sync.hpp"
#include "job_internal.hpp"
#include "master_worker.hpp"
#include "mpi_handles.hpp"
#include "pipeline_stage.hpp"
#include "run_info.hpp"
#include "run_report_json.hpp"
#include "signals.hpp"
#include "static_run.hpp"
#include "trace.hpp"

namespace mgi {

template <class F>
RankStats Job::run_interruptible(F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    if (e.code() != Exit::interrupted) throw;
    // Every rank is here (the interrupt was agreed): the rows written by
    // every rank reach the storage before rank 0 syncs the journal.
    try {
      close_parallel_output();
    } catch (const Error&) {  // unsynced rows are found by the CRC check at resume
    }
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
  if (!opts_.dry_run) leaders_phase([&] { prepare_backend(); });  // before the plan, which shows the batch it settled on
  if (stages_ > 1) {  // the stage ranks take their leader's batch
    MGI_MPI(MPI_Bcast(&batch_, 1, MPI_INT64_T, 0, group_.get()));
    collectively(world_, [&] { prepare_stage(); });
  }
  print_plan();
  if (opts_.dry_run) {
    if (topo_.rank == 0) std::printf("dry run: config, input, model and devices check out; nothing computed\n");
    return 0;
  }
  if (!opts_.trace_path.empty()) {
    MGI_MPI(MPI_Barrier(world_));  // a common time origin for every rank's spans
    Trace::enable(Trace::Clock::now());
  }
  std::unique_ptr<Progress> progress;
  leaders_phase([&] { collectively(comm_, [&] {
    if (topo_.rank == 0) {
      // Every check passed: make output.file's missing directories (checked creatable), then write.
      const std::string made = create_output_dir(cfg_.output.file);
      if (!made.empty()) std::printf("  created %s/ (output.file's directory)\n", made.c_str());
      checkpoint_->open();
      progress = std::make_unique<Progress>(todo_.count(), opts_.progress_seconds);
      checkpoint_->set_progress(progress.get());
    }
  }); });
  if (parallel_writer()) leaders_phase([&] { open_parallel_output(); });  // the leaders write their rows
  RankStats stats;
  if (!leader()) {
    StageServe serve{group_.get(), stage_, stages_, topo_.rank, topo_.host, backend_.get(),
                     &split_->stages[static_cast<size_t>(stage_)], stage_in_, stage_out_, batch_};
    stats = serve_stage(serve);  // until the leader's stop; a failure or interrupt throws its code
  } else {
    try {
      if (dynamic()) {
        DynamicRun run{comm_, work_rank_, work_size_, tasks_, max_task_rows_, batch_, &input_readers_, backend_.get(),
                       &graph_, &io_, checkpoint_.get(), parallel_.get()};
        stats = run_interruptible([&] { return run_dynamic(run); });
      } else {
        StaticRun run{comm_, work_rank_, &todo_, slices_, gather_, batch_, &input_readers_, backend_.get(), &graph_,
                      &io_, checkpoint_.get(), parallel_.get()};
        stats = run_interruptible([&] { return run_static(run); });
      }
    } catch (const Error& e) {  // agreed by the leaders: stop this replica's stages with the code
      if (pipeline_) pipeline_->stop(static_cast<int>(e.code()));
      throw;
    } catch (...) {
      if (pipeline_) pipeline_->stop(static_cast<int>(Exit::runtime));
      throw;
    }
    if (pipeline_) {
      pipeline_->stop(0);
      stats.stage = 0;
      stats.stage_busy_s = pipeline_->busy_s();
      stats.stage_idle_s = pipeline_->idle_s();
    }
  }
  leaders_phase([&] { collectively(comm_, [&] { close_parallel_output(); }); });
  if (progress) progress->finish();
  leaders_phase([&] { finish_output(started); });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::vector<RankStats> all = gather_rank_stats(stats, world_);
  std::vector<TraceEvent> trace;
  if (!opts_.trace_path.empty()) trace = gather_trace(Trace::take(), world_);
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

namespace {

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
