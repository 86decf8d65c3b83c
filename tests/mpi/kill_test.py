#!/usr/bin/env python3
"""Kill test: run a job, kill it at random moments (SIGKILL of one random
rank, or SIGTERM of every rank), start it again each time with a random rank
count, and check that the finished output is byte-for-byte the output of an
uninterrupted run: no row lost, none duplicated.

  kill_test.py --tool build/mgi-mpi --config in/mlp.yaml --input big.h5 --workdir DIR
               --mode static|dynamic [--kills 10] [--seed S] [--stages] [--writer gather|parallel|mixed]

With --stages every run also draws runtime.pipeline_stages: (np, K) from
(1, 1), (2, 1), (2, 2), (3, 3), (4, 2), (4, 4), so a SIGKILL may hit a stage
rank and a job is resumed at another np and K.

--writer sets output.writer for every attempt; `mixed` alternates it from
attempt to attempt (the first drawn), so every resume continues a journal and
file written by the other writer. The reference
run always uses the default (gather) writer.

Prints one line per attempt and a closing line
  kill test (static): kills 10 (sigkill 5, sigterm 5), resumes 10, mismatches 0
and exits 1 on any mismatch, hang, or output that looks complete after a kill."""
import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

import h5py
import numpy as np


def rank_pids(parent):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == parent and comm == "mgi-mpi" and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def same(a, b, datasets):
    with h5py.File(a) as fa, h5py.File(b) as fb:
        if int(fb.attrs.get("complete", 0)) != 1:
            return False
        return all(np.array_equal(fa[d][:].view(np.uint32), fb[d][:].view(np.uint32)) for d in datasets)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--input", required=True, help="HDF5 input file with /x")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--mode", choices=["static", "dynamic"], required=True)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--datasets", default="/y,/hidden")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--stages", action="store_true", help="draw runtime.pipeline_stages too")
    ap.add_argument("--writer", choices=["gather", "parallel", "mixed"], default="gather")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    rng = random.Random(seed)
    print(f"kill test ({args.mode}, writer {args.writer}): seed {seed}", flush=True)
    os.makedirs(args.workdir, exist_ok=True)
    datasets = args.datasets.split(",")
    mpirun = os.environ.get("MPIEXEC", "mpiexec")
    tag = args.mode if args.writer == "gather" else f"{args.mode}-{args.writer}"
    ref = os.path.join(args.workdir, f"ref-{tag}.h5")
    out = os.path.join(args.workdir, f"killed-{tag}.h5")

    def command(np_, output, extra=()):
        return [mpirun, "-n", str(np_), args.tool, args.config, "--set", f"input.file={args.input}",
                "--set", f"output.file={output}", "--set", f"mode={args.mode}", "--set", "runtime.batch_size=8",
                "--set", "runtime.gather_window_bytes=16KiB", "--set", "dynamic.chunk_rows=400",
                "--set", "checkpoint.grace_seconds=20", *extra]

    t0 = time.time()
    subprocess.run(command(2, ref, ["--overwrite", "--fresh", "--dry-run"]), check=True, stdout=subprocess.DEVNULL)
    startup = time.time() - t0
    # Kill moments are drawn over each writer's own uninterrupted run time (the
    # parallel writer's dynamic runs are much shorter here: no rows through rank 0).
    duration = {}
    used = ["gather", "parallel"] if args.writer == "mixed" else [args.writer]
    for writer in ["gather"] + [w for w in used if w != "gather"]:
        target = ref if writer == "gather" else os.path.join(args.workdir, f"ref-{tag}-{writer}.h5")
        t0 = time.time()
        subprocess.run(command(2, target, ["--overwrite", "--fresh", "--set", f"output.writer={writer}"]), check=True,
                       stdout=subprocess.DEVNULL)
        duration[writer] = max(0.2, time.time() - t0 - startup)
        print(f"uninterrupted run ({writer}): {duration[writer]:.2f} s after a start-up of {startup:.2f} s",
              flush=True)
        if target != ref and not same(ref, target, datasets):
            print(f"MISMATCH: the uninterrupted {writer} run differs from the gather run", flush=True)
            return 1

    for leftover in (out, out + ".journal", out + ".partial"):
        if os.path.exists(leftover):
            os.remove(leftover)
    kills = sigkills = sigterms = resumes = completed = mismatches = problems = 0
    started_once = False
    writers = {"gather": 0, "parallel": 0}  # runs
    killed = {"gather": 0, "parallel": 0}   # kills
    first_writer = rng.randrange(2)

    def kills_wanted():  # mixed: at least one kill of a run of each writer, too
        return kills < args.kills or (args.writer == "mixed" and 0 in killed.values())

    while kills_wanted() or not os.path.exists(out):
        if args.stages:
            np_, k = rng.choice([(1, 1), (2, 1), (2, 2), (3, 3), (4, 2), (4, 4)])
        else:
            np_, k = rng.choice([1, 2, 3, 4]), 1
        attempt = sum(writers.values())
        writer = ["gather", "parallel"][(first_writer + attempt) % 2] if args.writer == "mixed" else args.writer
        writers[writer] += 1
        if started_once:
            resumes += 1
        started_once = True
        extra = ["--set", f"output.writer={writer}"]
        if args.stages:
            extra += ["--set", f"runtime.pipeline_stages={k}"]
        proc = subprocess.Popen(command(np_, out, extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        # Kill moments are drawn over the run phase: after the plan (MPI up,
        # handlers installed), up to about the length of a whole run.
        for line in proc.stdout:
            if line.startswith(b"plan:"):
                break
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        want_kill = kills < args.kills or (args.writer == "mixed" and killed[writer] == 0)
        delay = rng.uniform(0.0, duration[writer]) if want_kill else None
        action = "none"
        if want_kill:
            try:
                proc.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                pids = rank_pids(proc.pid)
                if pids:
                    if rng.random() < 0.5:
                        action = "sigkill"
                        os.kill(rng.choice(pids), signal.SIGKILL)
                    else:
                        action = "sigterm"
                        for p in pids:
                            os.kill(p, signal.SIGTERM)
        try:
            proc.wait(timeout=120)
            err = proc.stderr.read()
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            print(f"HANG: np={np_} after {action}", flush=True)
            problems += 1
            proc.wait()
            continue
        rc = proc.returncode
        if action != "none":
            kills += 1
            killed[writer] += 1
            sigkills += action == "sigkill"
            sigterms += action == "sigterm"
        print(f"run np={np_}{f' K={k}' if args.stages else ''} {writer:8s} {action:7s} after {delay or 0:.2f}s -> exit {rc}",
              flush=True)
        if action == "sigterm" and rc not in (0, 75):
            print(f"UNEXPECTED: SIGTERM gave exit {rc}: {err.decode()[-400:]}", flush=True)
            problems += 1
        if rc != 0 and os.path.exists(out):
            # A kill between the rename into place and the journal's removal:
            # the output is complete and must be right; its leftovers go.
            with h5py.File(out) as f:
                finished = int(f.attrs.get("complete", 0)) == 1
            if not finished:
                print("UNEXPECTED: an incomplete file sits at the output path after a failed run", flush=True)
                problems += 1
            for leftover in (out + ".journal", out + ".lock"):
                if os.path.exists(leftover):
                    os.remove(leftover)
            rc = 0 if finished else rc
        if rc == 0:
            completed += 1
            if not same(ref, out, datasets):
                print("MISMATCH: finished output differs from the uninterrupted run", flush=True)
                mismatches += 1
            if kills_wanted():  # start over to collect more kills
                os.remove(out)
    print(f"kill test ({args.mode}): kills {kills} (sigkill {sigkills}, sigterm {sigterms}), resumes {resumes}, "
          f"completed {completed}, mismatches {mismatches}, problems {problems}; "
          f"runs (kills) by writer: gather {writers['gather']} ({killed['gather']}), "
          f"parallel {writers['parallel']} ({killed['parallel']})", flush=True)
    return 1 if mismatches or problems or kills < args.kills else 0


if __name__ == "__main__":
    sys.exit(main())
