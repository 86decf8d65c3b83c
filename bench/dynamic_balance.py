#!/usr/bin/env python3
"""Load balance of mgi-mpi's static and dynamic modes on a heavy-tailed workload.

Rows have a "length" (log-normal or Pareto); the test-only op mgi.test.Work
sleeps in proportion to the lengths of each batch, so ranks behave like ranks
driving GPUs even when they oversubscribe a small machine. For each workload,
rank count P and strategy (static by rows, static by cost, dynamic) it runs

    mpirun -np P <build>/mgi-mpi <cfg> --report r.json --overwrite --set ...

and compares the makespan (report totals.run_s: the longest rank's run phase)
with the lower bound max(total cost / P, largest row cost). It also measures
the master's dispatch rate (one-row tasks, a no-op model) and what 1,000 GPUs
would need. Usage:

    .venv/bin/python bench/dynamic_balance.py --build build
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parent.parent
STRATEGIES = {
    # name: (mode, split by the cost dataset)
    "static-rows": ("static", False),
    "static-cost": ("static", True),
    "dynamic": ("dynamic", True),
    "dynamic-rows": ("dynamic", False),  # not in the default set: dynamic without a cost model
}


def work_model(path, ns_per_unit, d=1):
    """x [batch, d] -> y = x, sleeping sum(max(0, x[:, 0])) * ns_per_unit ns per batch."""
    node = helper.make_node("Work", ["x"], ["y"], name="work", domain="mgi.test", ns_per_unit=int(ns_per_unit))
    graph = helper.make_graph(
        [node], "work",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", d])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("mgi.test", 1)])
    model.ir_version = 8
    onnx.save(model, str(path))


def lengths(rng, n, dist, sigma, alpha, median):
    if dist == "lognormal":
        x = rng.lognormal(mean=np.log(median), sigma=sigma, size=n)
    else:  # Pareto with scale chosen so the median is `median`
        xm = median / 2 ** (1 / alpha)
        x = xm * (1 + rng.pareto(alpha, size=n))
    return np.maximum(1, np.round(x)).astype(np.float32)


def write_data(path, length):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=length.reshape(-1, 1))
        f.create_dataset("cost", data=length)


def write_config(path, data, model, out):
    path.write_text(
        f"input:\n  file: {data}\n  dataset: /x\n"
        f"output:\n  file: {out}\n  dataset: /y\n"
        f"model:\n  file: {model}\n"
        f"runtime:\n  device: cpu\n  threads: 1\n  batch_size: 8\n"
        f"mode: static\n")


def mpi_env(yield_when_idle):
    """The environment tools/mpirun-env.sh sets (root, oversubscription, shared memory)."""
    out = subprocess.run(["bash", "-c", f"source {REPO}/tools/mpirun-env.sh && env -0"],
                         check=True, capture_output=True).stdout
    env = dict(kv.split("=", 1) for kv in out.decode().split("\0") if "=" in kv)
    if yield_when_idle:
        # Ranks waiting in MPI yield the core. Open MPI does this by itself once ranks
        # outnumber cores (np 4, 8 here); at np = 2 on 2 cores its busy polling would
        # steal the cores the sleeping "GPU" ranks wake up on, which real GPU nodes,
        # with cores to spare per rank, do not see.
        env.setdefault("OMPI_MCA_mpi_yield_when_idle", "1")
    return env


def run_once(args, env, np_, cfg, report, sets, timeout):
    cmd = ["mpirun", "-np", str(np_), str(args.binary), str(cfg), "--report", str(report), "--overwrite"]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"dynamic_balance: failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    with open(report) as f:
        rep = json.load(f)
    rep["_launch_wall_s"] = wall
    return rep


def check_output(out_path, length):
    with h5py.File(out_path) as f:
        y = f["/y"][:, 0]
        if f.attrs["complete"] != 1 or not np.array_equal(y, length):
            sys.exit(f"dynamic_balance: {out_path}: output is not the input (the Work op is an identity)")


def balance(args, env, work):
    rng = np.random.default_rng(args.seed)
    length = lengths(rng, args.rows, args.dist, args.sigma, args.alpha, args.median)
    total, largest = float(length.sum()), float(length.max())
    ns_per_unit = max(1, round(args.work_s * 1e9 / total))
    model = work / "work.onnx"
    work_model(model, ns_per_unit)
    variants = {"random": length, "clustered": np.sort(length)}  # clustered: long rows together at the end
    rows = []
    print(f"workload: {args.rows} rows, {args.dist} lengths "
          f"({'sigma=' + str(args.sigma) if args.dist == 'lognormal' else 'alpha=' + str(args.alpha)}, "
          f"median {args.median}), total {total:.0f} units, largest row {largest:.0f} units "
          f"({100 * largest / total:.2f} % of the total), ns_per_unit {ns_per_unit} "
          f"(total work {total * ns_per_unit * 1e-9:.2f} s), batch_size 8, seed {args.seed}")
    hdr = (f"{'workload':<10} {'P':>2}  {'strategy':<12} {'makespan s':>10} {'lower bd s':>10} {'ratio':>6}  "
           f"{'tasks':>5} {'sleep+':>6}")
    print(hdr)
    print("-" * len(hdr))
    for name, ln in variants.items():
        data = work / f"{name}.h5"
        write_data(data, ln)
        cfg = work / f"{name}.yaml"
        out = work / f"{name}-out.h5"
        write_config(cfg, data, model, out)
        for p in args.np:
            lb_units = max(total / p, largest)
            lb = lb_units * ns_per_unit * 1e-9
            for strat in args.strategies:
                mode, by_cost = STRATEGIES[strat]
                sets = [f"mode={mode}"] + (["input.cost=/cost"] if by_cost else [])
                runs = []
                for k in range(args.repeat):
                    rep = run_once(args, env, p, cfg, work / "report.json", sets, args.timeout)
                    check_output(out, ln)
                    runs.append(rep)
                spans = [r["totals"]["run_s"] for r in runs]
                span = statistics.median(spans)
                tasks = sum(r["tasks"] for r in runs[0]["ranks"])
                busy = [[rk["compute_s"] for rk in r["ranks"]] for r in runs]
                # Time in the op beyond the requested sleep (wake-up latency, copies), all ranks together.
                over = statistics.median(sum(b) / (total * ns_per_unit * 1e-9) - 1 for b in busy)
                row = {"workload": name, "np": p, "strategy": strat, "makespan_s": span, "makespan_runs_s": spans,
                       "lower_bound_s": lb, "ratio": span / lb, "tasks": tasks, "compute_s_per_rank": busy,
                       "sleep_overshoot": over,
                       "wall_s_runs": [r["totals"]["wall_s"] for r in runs],
                       "launch_wall_s_runs": [r["_launch_wall_s"] for r in runs]}
                rows.append(row)
                print(f"{name:<10} {p:>2}  {strat:<12} {span:>10.3f} {lb:>10.3f} {span / lb:>6.2f}  "
                      f"{tasks if mode == 'dynamic' else '':>5} {100 * over:>5.1f}%", flush=True)
    print(f"makespan = report totals.run_s (longest rank, run phase; median of {args.repeat}); "
          "lower bound = max(total cost / P, largest row) * ns_per_unit; sleep+ = time all ranks spent in the op "
          "beyond the requested sleep (wake-up latency of a loaded machine), as a share of the total work.")
    print("Granularity: the op sleeps once per batch for the sum of its rows, and a batch never spans two "
          "tasks or slices, so the indivisible unit is a batch (<= 8 rows), not a row; per-batch overheads "
          "(HDF5 read, sleep wake-up) add to every strategy.")
    return {"rows": args.rows, "dist": args.dist, "sigma": args.sigma, "alpha": args.alpha, "median": args.median,
            "seed": args.seed, "total_units": total, "largest_row_units": largest, "ns_per_unit": ns_per_unit,
            "batch_size": 8, "repeat": args.repeat, "results": rows}


def dispatch(args, env, work):
    n = args.dispatch_rows
    data = work / "dispatch.h5"
    write_data(data, np.ones(n, np.float32))
    model = work / "noop.onnx"
    work_model(model, 0)  # ns_per_unit = 0: the op only copies
    cfg = work / "dispatch.yaml"
    out = work / "dispatch-out.h5"
    write_config(cfg, data, model, out)
    sets = ["mode=dynamic", "dynamic.chunk_rows=1"]
    runs = [run_once(args, env, args.dispatch_np, cfg, work / "report.json", sets, args.timeout)
            for _ in range(args.repeat)]
    rates = []
    for r in runs:
        tasks = sum(rk["tasks"] for rk in r["ranks"])
        if tasks != n:
            sys.exit(f"dynamic_balance: dispatch run did {tasks} tasks, expected {n}")
        rates.append(tasks / r["totals"]["run_s"])
    rate = statistics.median(rates)
    print(f"\ndispatch: np={args.dispatch_np}, mode dynamic, dynamic.chunk_rows=1, {n} one-row tasks, no-op model: "
          f"{rate:,.0f} tasks/s (median of {args.repeat}: {', '.join(f'{x:,.0f}' for x in rates)}; "
          f"run_s {statistics.median(r['totals']['run_s'] for r in runs):.2f})")
    needs = []
    print(f"{'GPU task time T':>16} {'1,000 GPUs need':>16}  {'measured / needed':>17}")
    for t in (0.01, 0.1, 1.0):
        need = 1000 / t
        needs.append({"task_s": t, "needed_tasks_per_s": need, "headroom": rate / need})
        print(f"{t * 1000:>13.0f} ms {need:>12,.0f} /s  {rate / need:>16.2f}x")
    print(f"one master keeps 1,000 GPUs fed when each task takes >= {1000 / rate * 1000:.0f} ms of GPU time")
    return {"np": args.dispatch_np, "tasks": n, "rates_tasks_per_s": rates, "rate_tasks_per_s": rate,
            "run_s": [r["totals"]["run_s"] for r in runs], "for_1000_gpus": needs,
            "min_task_s_for_1000_gpus": 1000 / rate}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=REPO / "build", help="build directory holding mgi-mpi")
    ap.add_argument("--out", type=Path, help="JSON results (default <build>/bench/dynamic_balance.json)")
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--dist", choices=["lognormal", "pareto"], default="lognormal")
    ap.add_argument("--sigma", type=float, default=1.0, help="log-normal shape")
    ap.add_argument("--alpha", type=float, default=1.5, help="Pareto tail index")
    ap.add_argument("--median", type=float, default=100, help="median row length (units)")
    ap.add_argument("--work-s", type=float, default=4.0, help="total sleep of all rows, seconds (sets ns_per_unit)")
    ap.add_argument("--np", type=lambda s: [int(x) for x in s.split(",")], default=[2, 4, 8])
    ap.add_argument("--strategies", type=lambda s: s.split(","), default=["static-rows", "static-cost", "dynamic"])
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the median makespan is reported")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dispatch-rows", type=int, default=200000)
    ap.add_argument("--dispatch-np", type=int, default=8)
    ap.add_argument("--skip-balance", action="store_true")
    ap.add_argument("--skip-dispatch", action="store_true")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per mpirun")
    ap.add_argument("--busy-poll", action="store_true",
                    help="keep Open MPI's default idle policy (busy polling unless oversubscribed)")
    args = ap.parse_args()
    for s in args.strategies:
        if s not in STRATEGIES:
            ap.error(f"unknown strategy '{s}' (choose from {', '.join(STRATEGIES)})")
    args.build = args.build.resolve()
    args.binary = args.build / "mgi-mpi"
    if not args.binary.exists():
        ap.error(f"{args.binary} not found (build the mgi-mpi target first)")
    out = (args.out or args.build / "bench" / "dynamic_balance.json").resolve()
    work = args.build / "bench" / "work"
    work.mkdir(parents=True, exist_ok=True)
    env = mpi_env(not args.busy_poll)
    result = {"date": time.strftime("%Y-%m-%d"), "host": platform.node(), "cpus": os.cpu_count(),
              "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
              "mpi_yield_when_idle": env.get("OMPI_MCA_mpi_yield_when_idle", "default")}
    print(f"mpi_yield_when_idle: {result['mpi_yield_when_idle']}")
    if not args.skip_balance:
        result["balance"] = balance(args, env, work)
    if not args.skip_dispatch:
        result["dispatch"] = dispatch(args, env, work)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresults: {out}")


if __name__ == "__main__":
    main()
