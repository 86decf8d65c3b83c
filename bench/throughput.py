#!/usr/bin/env python3
"""Throughput of mgi-mpi against its own stage bounds and the tools users would pick instead.

Models (the first two generated here with onnx.helper in PyTorch Linear form: Gemm
transB=1 with its bias, ReLU between layers; inputs in HDF5):
  mlp     512 -> 256 -> 10                 I/O-bound on a GPU: 2 KiB read per row, 0.27 MFLOP
  big     4096 -> 8192 -> 8192 -> 4096     compute-bound: 16 KiB per row, 268 MFLOP
  ragged  models/ragged-pool.onnx (tools/make_ragged_example.py): variable-length rows
          (values + offsets, input.offsets), masked mean pooling; a larger dataset is
          generated here with the same length distribution

Every mgi-mpi row gets, in the same run, its stage bounds from mgi-stage-bench on the
same config (HDF5 read from the page cache, H2D, compute, D2H, each alone), the slowest
stage and efficiency = end-to-end / slowest stage.

CPU, for each thread count T (--threads, default 1,2):
  mgi-mpi      mpirun -np 1 mgi-mpi (runtime.device cpu, runtime.threads T): end-to-end
               rows / report totals.run_s, compute-only rows / ranks[0].compute_s
  onnxruntime  CPU EP, T threads, h5py read -> run -> h5py write per batch (bench/peers/ort_numpy.py)
  numpy        the same loop with matmul + bias + ReLU on the same weights (BLAS with T threads)
  ragged       mgi-mpi static and dynamic against onnxruntime padding each batch of
               consecutive rows to its longest row (ort_numpy.py --peer ort-ragged)
each as a ratio mgi-mpi / peer; then GEMM GFLOP/s of the CPU backend against
cblas_sgemm alone at each layer's shape (mgi-gemm-bench).

GPU, when mgi-mpi sees a CUDA device (a dry run with runtime.device=cuda succeeds):
mlp and big with more rows, runtime.device cuda in each --gpu-precisions, with
runtime.cuda_graphs false and true, against bench/peers/torch_h5py.py (mpi4py + h5py +
PyTorch, under mpirun -np 1 when mpi4py imports; if torch imports) and onnxruntime's
CUDA EP (if present), and the CUDA backend's GEMM path against cuBLAS alone
(mgi-gemm-bench --device cuda). The ragged model is CPU-only in this tool (the CUDA
backend has no run_shaped): it gets no GPU row. Without a device: "no GPU: skipped".

Then the issue's targets, each met / missed with its numbers: end-to-end >= 85 % of the
slowest stage; compute-bound GEMMs >= 80 % of cuBLAS alone; >= 2x the PyTorch + h5py
script; CPU backend >= 1.0x onnxruntime on the MLP at the same thread count.

    .venv/bin/python bench/throughput.py --build build            # full run
    .venv/bin/python bench/throughput.py --build build --quick    # smoke run, small sizes

Prints tables; writes <build>/bench/throughput.json (--out); scratch in
<build>/bench/throughput/ (models and data are reused when their sizes match).
"""
import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
MODELS = {
    # name: (layer widths, CPU rows, GPU rows, batch size CPU, batch size GPU)
    "mlp": ([512, 256, 10], 524288, 1048576, 1024, 8192),
    "big": ([4096, 8192, 8192, 4096], 512, 32768, 256, 1024),
}
RAGGED_ROWS, RAGGED_BATCH, RAGGED_MAX_LEN = 50000, 256, 200
QUICK = dict(threads="1", repeat=1, gemm_repeat=2, mlp_rows=16384, big_rows=64, ragged_rows=2000,
             gpu_rows="mlp=131072,big=4096", gpu_precisions="fp32,bf16")
TARGET_EFFICIENCY, TARGET_GEMM, TARGET_TORCH, TARGET_ORT = 0.85, 0.80, 2.0, 1.0


# ---------------------------------------------------------------- models and data

def make_model(path, widths, seed):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    x = "x"
    for i, (fin, fout) in enumerate(zip(widths[:-1], widths[1:])):
        bound = np.sqrt(3.0 / fin)  # unit-variance activations
        w = rng.uniform(-bound, bound, (fout, fin)).astype(np.float32)
        b = rng.uniform(-bound, bound, (fout,)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        y = f"h{i}" if i + 2 < len(widths) else "y"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y + ("_lin" if y != "y" else "")],
                                      name=f"fc{i}", transB=1))
        if y != "y":
            nodes.append(helper.make_node("Relu", [y + "_lin"], [y], name=f"relu{i}"))
        x = y
    graph = helper.make_graph(nodes, "bench",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", widths[0]])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", widths[-1]])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="mgi-bench")
    model.ir_version = 8
    onnx.save(model, str(path))


def make_data(path, rows, width, seed):
    import h5py
    import numpy as np
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("x", (rows, width), dtype="f4")
        step = max(1, (64 << 20) // (width * 4))
        for r in range(0, rows, step):
            n = min(step, rows - r)
            d[r:r + n] = rng.standard_normal((n, width), dtype=np.float32)


def has_shape(path, dataset, shape):
    import h5py
    try:
        with h5py.File(path) as f:
            return f[dataset].shape == shape
    except (OSError, KeyError):
        return False


def prepare_inputs(work, name, widths, rows):
    """Model and data files, regenerated only when missing or of another size."""
    model = work / f"{name}-{'-'.join(map(str, widths))}.onnx"  # the widths in the name: a stale file never matches
    data = work / f"{name}-{rows}.h5"
    if not model.exists():
        make_model(model, widths, seed=7)
    if not has_shape(data, "x", (rows, widths[0])):
        make_data(data, rows, widths[0], seed=11)
    return model, data


def prepare_ragged(work, rows):
    """The shipped ragged model and `rows` rows drawn like tools/make_ragged_example.py's."""
    sys.path.insert(0, str(REPO / "tools"))
    import numpy as np
    from make_ragged_example import make_data as make_ragged, make_lengths, make_model as make_ragged_model, write_data
    model = REPO / "models" / "ragged-pool.onnx"
    if not model.exists():
        import onnx
        model = work / "ragged-pool.onnx"
        onnx.save(make_ragged_model(np.random.default_rng(7)), str(model))
    data = work / f"ragged-{rows}.h5"
    if not has_shape(data, "offsets", (rows + 1,)):
        rng = np.random.default_rng(11)
        write_data(data, *make_ragged(rng, make_lengths(rng, rows, RAGGED_MAX_LEN)))
    return model, data


# ---------------------------------------------------------------- runners

def mpi_env():
    out = subprocess.run(["bash", "-c", f"source {REPO}/tools/mpirun-env.sh && env -0"],
                         check=True, capture_output=True).stdout
    return dict(kv.split("=", 1) for kv in out.decode().split("\0") if "=" in kv)


def write_config(out, *, data, model, device, threads, batch, precision="fp32", cuda_graphs=False,
                 mode="static", ragged=False):
    """The mgi-mpi config of one measurement (<out>.yaml); mgi-stage-bench reads the same file."""
    cfg = out.with_suffix(".yaml")
    inp = ("  dataset: /values\n  offsets: /offsets\n  mask: mask\n" if ragged else "  dataset: /x\n")
    cfg.write_text(f"input:\n  file: {data}\n{inp}"
                   f"output:\n  file: {out}\n  dataset: {'/logits' if ragged else '/y'}\n"
                   f"model:\n  file: {model}\n"
                   f"runtime:\n  device: {device}\n  threads: {threads}\n  batch_size: {batch}\n"
                   f"  precision: {precision}\n  cuda_graphs: {'true' if cuda_graphs else 'false'}\n"
                   f"mode: {mode}\n")
    return cfg


def run_mgi(args, env, cfg):
    out = cfg.with_suffix(".h5")
    report = cfg.with_suffix(".report.json")
    # --bind-to none: mpirun binds a lone rank to one core, where T threads would share it.
    cmd = ["mpirun", "-np", "1", "--bind-to", "none", str(args.binary), str(cfg), "--report", str(report), "--overwrite"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        sys.exit(f"throughput: mgi-mpi failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    rep = json.loads(report.read_text())
    rank = rep["ranks"][0]
    return {"rows": rep["totals"]["rows"], "e2e_s": rep["totals"]["run_s"], "compute_s": rank["compute_s"],
            "read_s": rank["read_s"], "write_s": rank.get("write_s", 0.0), "wall_s": rep["totals"]["wall_s"],
            "device": rank["device"], "out": str(out)}


def run_stages(args, env, cfg):
    """mgi-stage-bench on the config: each stage alone (read: fastest pass; h2d/compute/d2h: median batch)."""
    js = cfg.with_suffix(".stages.json")
    cmd = [str(args.stage_bench), str(cfg), "--repeat", str(args.repeat), "--json", str(js)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        sys.exit(f"throughput: mgi-stage-bench failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-2000:]}"
                 f"{p.stderr[-2000:]}")
    return json.loads(js.read_text())


def run_peer(args, script, argv, threads, mpi=False, env=None):
    """A peer script; one JSON line on stdout. mpi: under mpirun -np 1 (the MPI environment)."""
    env = dict(env or os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    cmd = ([("mpirun"), "-np", "1"] if mpi else []) + [sys.executable, str(PEERS / script)] + [str(a) for a in argv]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        sys.exit(f"throughput: peer failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def ort_numpy(args, peer, model, data, out, threads, batch):
    r = run_peer(args, "ort_numpy.py", ["--peer", peer, "--model", model, "--data", data, "--out", out,
                                        "--threads", threads, "--batch", batch], threads)
    return dict(r, out=str(out))


def interleaved(tools, repeat):
    """best_of for several tools, their runs taken in turns (A B C A B C ...)
    so that every tool sees the same changes in the machine's load."""
    runs = {name: [] for name in tools}
    for _ in range(repeat):
        for name, fn in tools.items():
            runs[name].append(fn())
    return {name: best_of(r) for name, r in runs.items()}


def best_of(runs):
    """The fastest run by end-to-end time (on a machine shared with other jobs
    the fastest run is the least disturbed one; the median measures the load),
    with its compute time replaced by the fastest compute time seen. Every
    run's rates are kept in the JSON."""
    best = dict(min(runs, key=lambda r: r["e2e_s"]))
    best["compute_s"] = min(r["compute_s"] for r in runs)
    best["e2e_rows_s_all"] = [r["rows"] / r["e2e_s"] for r in runs]
    best["compute_rows_s_all"] = [r["rows"] / r["compute_s"] for r in runs if r["compute_s"] > 0]
    best["e2e_rows_s_median"] = statistics.median(best["e2e_rows_s_all"])
    return best


def max_rel_diff(a_path, b_path, dataset="y"):
    import h5py
    import numpy as np
    with h5py.File(a_path) as fa, h5py.File(b_path) as fb:
        a, b = fa[dataset][:], fb[dataset][:]
    return float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30))


def gemm_bench(args, device, m, k, n, threads, precision="fp32"):
    exe = args.build / "bench" / "mgi-gemm-bench"
    repeat = args.gemm_repeat
    if device == "cpu" and 2.0 * m * k * n >= 2e9:
        repeat = min(repeat, max(5, repeat // 4))
    cmd = [str(exe), "--device", device, "--m", str(m), "--k", str(k), "--n", str(n), "--threads", str(threads),
           "--repeat", str(repeat), "--precision", precision]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        sys.exit(f"throughput: {' '.join(cmd)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def has_gpu(args, env, work):
    """Whether mgi-mpi itself sees a CUDA device: a dry run with runtime.device=cuda."""
    model, data = prepare_inputs(work, "mlp", MODELS["mlp"][0], 1024)
    cfg = write_config(work / "gpu-probe.h5", data=data, model=model, device="cuda", threads=1, batch=1024)
    p = subprocess.run(["mpirun", "-np", "1", str(args.binary), str(cfg), "--dry-run", "--overwrite"], env=env,
                       capture_output=True, text=True, timeout=120)
    if p.returncode == 0:
        return True, []
    lines = (p.stdout + p.stderr).strip().splitlines()
    why = [ln.strip() for ln in lines if ln.startswith("mgi-mpi:")][:1] or lines[-1:]
    return False, why


# ---------------------------------------------------------------- printing

def fmt(v, w=9, d=0):
    return f"{v:>{w},.{d}f}" if isinstance(v, (int, float)) else f"{str(v):>{w}}"


def rate(r):
    return r["rows"] / r["e2e_s"], r["rows"] / r["compute_s"] if r["compute_s"] > 0 else float("inf")


def stage_row(st, e2e):
    """Stage bounds of one mgi-mpi row: rows/s of each stage (None: no copy on this backend),
    the slowest, and efficiency = end-to-end / slowest."""
    s = {k: v["rows_s"] for k, v in st["stages"].items()}
    return {"read_rows_s": s["read"], "h2d_rows_s": s["h2d"], "compute_rows_s": s["compute"], "d2h_rows_s": s["d2h"],
            "slowest": st["slowest"], "slowest_rows_s": st["slowest_rows_s"], "e2e_rows_s": e2e,
            "efficiency": e2e / st["slowest_rows_s"], "stage_device": st["device"], "stage_rows": st["rows"],
            "stage_batch": st["batch"], "stage_repeat": st["repeat"],
            "stage_repeats_one_batch": st.get("stage_repeats")}


STAGE_HDR = (f"{'read':>11} {'h2d':>11} {'compute':>11} {'d2h':>11} {'slowest':>8} {'e2e':>11} {'e2e/slowest':>11}")


def stage_cells(s):
    return (f"{fmt(s['read_rows_s'], 11)} {fmt(s['h2d_rows_s'] or '-', 11)} {fmt(s['compute_rows_s'], 11)} "
            f"{fmt(s['d2h_rows_s'] or '-', 11)} {s['slowest']:>8} {fmt(s['e2e_rows_s'], 11)} "
            f"{s['efficiency']:>10.0%}")


def print_tool_rows(label, res, ref="mgi-mpi"):
    mg_e2e, mg_comp = rate(res[ref])
    out = []
    for tool, r in res.items():
        e2e, comp = rate(r)
        is_mgi = tool.startswith("mgi-mpi")
        ratios = "" if is_mgi else f"{mg_e2e / e2e:>11.2f}x {mg_comp / comp:>12.2f}x"
        print(f"{label} {tool:<16} {fmt(e2e, 11)} {fmt(comp, 14)} {r['read_s']:>7.3f} {r['compute_s']:>9.3f} "
              f"{r['write_s']:>7.3f}  {ratios}")
        out.append({"tool": tool, "rows": r["rows"], "e2e_rows_s": e2e, "compute_rows_s": comp,
                    "read_s": r["read_s"], "compute_s": r["compute_s"], "write_s": r["write_s"],
                    "pad_s": r.get("pad_s"), "e2e_rows_s_all": r["e2e_rows_s_all"],
                    "compute_rows_s_all": r["compute_rows_s_all"], "e2e_rows_s_median": r["e2e_rows_s_median"],
                    "ratio_mgi_e2e": None if is_mgi else mg_e2e / e2e,
                    "ratio_mgi_compute": None if is_mgi else mg_comp / comp, "device": r.get("device")})
    return out


# ---------------------------------------------------------------- sections

def print_header(hdr):
    """A table's header line, underlined."""
    print(hdr)
    print("-" * len(hdr))


def print_tool_header(second):
    """Header of a throughput table; `second`: the thread or precision column."""
    hdr = (f"{'model':<6} {second} {'tool':<16} {'e2e rows/s':>11} {'compute rows/s':>14} {'read s':>7} "
           f"{'compute s':>9} {'write s':>7}  {'mgi/peer e2e':>12} {'mgi/peer comp':>13}")
    print_header(hdr)


def cpu_section(args, env, work, result):
    rows_out, stages_out = [], []
    print(f"\nCPU throughput (1 rank; fastest of {args.repeat} runs)")
    print_tool_header(f"{'T':>2}")
    for name in args.models:
        widths, rows, _, batch, _ = MODELS[name]
        rows = args.mlp_rows if name == "mlp" and args.mlp_rows else rows
        rows = args.big_rows if name == "big" and args.big_rows else rows
        model, data = prepare_inputs(work, name, widths, rows)
        for t in args.threads:
            cfg = write_config(work / f"{name}-cpu-t{t}-mgi.h5", data=data, model=model, device="cpu", threads=t,
                               batch=batch)
            res = interleaved({
                "mgi-mpi": lambda: run_mgi(args, env, cfg),
                "onnxruntime": lambda: ort_numpy(args, "ort", model, data, work / f"{name}-ort.h5", t, batch),
                "numpy": lambda: ort_numpy(args, "numpy", model, data, work / f"{name}-np.h5", t, batch),
            }, args.repeat)
            diff = max_rel_diff(res["onnxruntime"]["out"], res["mgi-mpi"]["out"])
            block = print_tool_rows(f"{name:<6} {t:>2}", res)
            print(f"{'':<6} {'':>2} (mgi-mpi vs onnxruntime outputs: max|diff| / max|y| = {diff:.1e})")
            for row in block:
                row.update(model=name, threads=t, batch=batch)
            block[0]["max_rel_diff_vs_onnxruntime"] = diff
            block[0]["stages"] = st = stage_row(run_stages(args, env, cfg), block[0]["e2e_rows_s"])
            stages_out.append(dict(st, model=name, threads=t, device="cpu"))
            rows_out += block
    print(f"\nCPU stage bounds of mgi-mpi (mgi-stage-bench on the same config; rows/s; read: fastest pass, others: median batch of the best pass; "
          "h2d/d2h: no copies on the CPU)")
    hdr = f"{'model':<6} {'T':>2} {STAGE_HDR}"
    print_header(hdr)
    for s in stages_out:
        print(f"{s['model']:<6} {s['threads']:>2} {stage_cells(s)}")
    print("  (on the CPU the read-ahead thread and the compute threads share the cores, so the slowest stage\n"
          "   alone is an optimistic bound there; on a GPU node the stages use different hardware)")
    result["cpu"] = rows_out
    result["cpu_stages"] = stages_out


def ragged_section(args, env, work, result):
    model, data = prepare_ragged(work, args.ragged_rows)
    import h5py
    import numpy as np
    with h5py.File(data) as f:
        lengths = np.diff(f["offsets"][:])
    batch = RAGGED_BATCH
    print(f"\nRagged model on the CPU: {model.relative_to(REPO) if model.is_relative_to(REPO) else model}, "
          f"{args.ragged_rows:,} rows of 8-dim tokens, lengths {lengths.min()}..{lengths.max()} "
          f"(mean {lengths.mean():.1f}), batch {batch}; fastest of {args.repeat} runs")
    print_tool_header(f"{'T':>2}")
    rows_out, stages_out = [], []
    for t in args.threads:
        cfg = {mode: write_config(work / f"ragged-t{t}-{mode}-mgi.h5", data=data, model=model, device="cpu",
                                  threads=t, batch=batch, mode=mode, ragged=True) for mode in ("static", "dynamic")}
        res = interleaved({
            "mgi-mpi static": lambda: run_mgi(args, env, cfg["static"]),
            "mgi-mpi dynamic": lambda: run_mgi(args, env, cfg["dynamic"]),
            "ort padded": lambda: ort_numpy(args, "ort-ragged", model, data, work / "ragged-ort.h5", t, batch),
        }, args.repeat)
        diff = max_rel_diff(res["ort padded"]["out"], res["mgi-mpi static"]["out"], "logits")
        same = max_rel_diff(res["mgi-mpi static"]["out"], res["mgi-mpi dynamic"]["out"], "logits")
        block = print_tool_rows(f"{'ragged':<6} {t:>2}", res, ref="mgi-mpi static")
        dyn_ratio = rate(res["mgi-mpi dynamic"])[0] / rate(res["ort padded"])[0]
        print(f"{'':<6} {'':>2} (mgi-mpi dynamic / ort padded e2e: {dyn_ratio:.2f}x; outputs: static vs onnxruntime "
              f"max|diff| / max|y| = {diff:.1e}, static vs dynamic {same:.1e})")
        st = stage_row(run_stages(args, env, cfg["static"]), rate(res["mgi-mpi static"])[0])
        for row in block:
            row.update(model="ragged", threads=t, batch=batch)
            if row["tool"].startswith("mgi-mpi"):
                row["stages"] = dict(st, e2e_rows_s=row["e2e_rows_s"],
                                     efficiency=row["e2e_rows_s"] / st["slowest_rows_s"])
                stages_out.append(dict(row["stages"], model="ragged", mode=row["tool"].split()[-1], threads=t,
                                       device="cpu"))
        block[0]["max_rel_diff_vs_onnxruntime"] = diff
        block[0]["max_rel_diff_static_dynamic"] = same
        rows_out += block
    print("\nRagged stage bounds (mgi-stage-bench on the static config: values read in groups of 16 batches, "
          "compute = run_shaped on every padded batch)")
    hdr = f"{'mode':<8} {'T':>2} {STAGE_HDR}"
    print_header(hdr)
    for s in stages_out:
        print(f"{s['mode']:<8} {s['threads']:>2} {stage_cells(s)}")
    result["ragged_cpu"] = {"rows": args.ragged_rows, "batch": batch, "mean_length": float(lengths.mean()),
                            "max_length": int(lengths.max()), "throughput": rows_out, "stages": stages_out}


def gemm_section(args, result):
    print("\nCPU GEMM GFLOP/s: backend Gemm node vs cblas_sgemm alone (fastest of %d; of %d for shapes over 1 GFLOP)"
          % (args.gemm_repeat, min(args.gemm_repeat, max(5, args.gemm_repeat // 4))))
    hdr = f"{'shape m x k -> n':<22} {'T':>2} {'BLAS alone':>10} {'backend':>9} {'fused b+relu':>12} {'backend/BLAS':>12}"
    print_header(hdr)
    out = []
    for name in args.models:
        widths, _, _, batch, _ = MODELS[name]
        for k, n in zip(widths[:-1], widths[1:]):
            for t in args.threads:
                r = gemm_bench(args, "cpu", batch, k, n, t)
                out.append(dict(r, model=name))
                print(f"{f'{batch} x {k} -> {n}':<22} {t:>2} {r['blas_gflops']:>10.1f} {r['backend_gflops']:>9.1f} "
                      f"{r['backend_fused_gflops']:>12.1f} {r['backend_gflops'] / r['blas_gflops']:>11.2f}x")
    result["gemm_cpu"] = out


def gpu_section(args, env, work, result):
    ok, why = has_gpu(args, env, work)
    if not ok:
        print("\nGPU: no GPU: skipped" + (f" ({why[0]})" if why else ""))
        result["gpu"] = {"skipped": "no GPU", "detail": why}
        return
    have_torch = importlib.util.find_spec("torch") is not None
    # Installed is not enough: mpi4py.MPI must load an MPI library and initialize.
    torch_mpi = have_torch and subprocess.run([sys.executable, "-c", "from mpi4py import MPI"],
                                              capture_output=True, timeout=60).returncode == 0
    try:
        import onnxruntime as ort
        have_ort_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:
        have_ort_cuda = False
    how = ("under mpirun -np 1" if torch_mpi else "without mpi4py, one process") if have_torch else "not importable"
    print(f"\nGPU throughput (1 rank, 1 GPU; fastest of {args.repeat} runs; peers: torch+h5py {how}, "
          f"onnxruntime CUDA EP {'yes' if have_ort_cuda else 'not available'})")
    print_tool_header(f"{'prec':<5}")
    rows_out, stages_out = [], []
    for name in args.models:
        widths, _, rows, _, batch = MODELS[name]
        rows = args.gpu_rows.get(name, rows)
        model, data = prepare_inputs(work, name, widths, rows)
        for prec in args.gpu_precisions:
            cfgs = {g: write_config(work / f"{name}-gpu-{prec}-graphs{int(g)}-mgi.h5", data=data, model=model,
                                    device="cuda", threads=1, batch=batch, precision=prec, cuda_graphs=g)
                    for g in (False, True)}
            tools = {"mgi-mpi": lambda: run_mgi(args, env, cfgs[False]),
                     "mgi-mpi graphs": lambda: run_mgi(args, env, cfgs[True])}
            if have_torch:
                tools["torch+h5py"] = lambda: dict(run_peer(
                    args, "torch_h5py.py", ["--model", model, "--data", data, "--out", work / f"{name}-gpu-torch.h5",
                                            "--batch", batch, "--precision", prec], 1, mpi=torch_mpi, env=env),
                    out=str(work / f"{name}-gpu-torch.h5"))
            if have_ort_cuda and prec == "fp32":
                tools["ort-cuda"] = lambda: ort_numpy(args, "ort-cuda", model, data, work / f"{name}-gpu-ort.h5", 1,
                                                      batch)
            res = interleaved(tools, args.repeat)
            for tool in ("mgi-mpi", "mgi-mpi graphs"):
                if f", {prec})" not in (res[tool].get("device") or ""):
                    print(f"  warning: {tool} did not report precision {prec} (device: {res[tool].get('device')}): "
                          f"runtime.precision not applied")
            block = print_tool_rows(f"{name:<6} {prec:<5}", res)
            g_e2e = rate(res["mgi-mpi graphs"])[0]
            extra = [f"{tool} {g_e2e / rate(res[tool])[0]:.2f}x" for tool in res if not tool.startswith("mgi-mpi")]
            if extra:
                print(f"{'':<6} {'':<5} (mgi-mpi graphs / peer e2e: {', '.join(extra)})")
            for row in block:
                row.update(model=name, precision=prec, batch=batch)
                if not row["tool"].startswith("mgi-mpi"):
                    row["ratio_mgi_graphs_e2e"] = g_e2e / row["e2e_rows_s"]
            same = max_rel_diff(res["mgi-mpi"]["out"], res["mgi-mpi graphs"]["out"])
            print(f"{'':<6} {'':<5} (mgi-mpi cuda_graphs on vs off outputs: max|diff| / max|y| = {same:.1e})")
            block[0]["max_rel_diff_graphs_on_off"] = same
            if "torch+h5py" in res:
                diff = max_rel_diff(res["torch+h5py"]["out"], res["mgi-mpi"]["out"])
                print(f"{'':<6} {'':<5} (mgi-mpi vs torch outputs: max|diff| / max|y| = {diff:.1e})")
                block[0]["max_rel_diff_vs_torch"] = diff
            for g, row in ((False, block[0]), (True, block[1])):
                st = stage_row(run_stages(args, env, cfgs[g]), row["e2e_rows_s"])
                row["stages"] = st
                stages_out.append(dict(st, model=name, precision=prec, cuda_graphs=g, device="cuda"))
            rows_out += block
    print(f"{'ragged':<6} {'-':<5} CPU-only in this tool (the CUDA backend has no run_shaped): no GPU row")
    print(f"\nGPU stage bounds of mgi-mpi (mgi-stage-bench on the same config; rows/s; read: fastest pass, others: median batch of the best pass)")
    hdr = f"{'model':<6} {'prec':<5} {'graphs':<6} {STAGE_HDR}"
    print_header(hdr)
    for s in stages_out:
        print(f"{s['model']:<6} {s['precision']:<5} {'on' if s['cuda_graphs'] else 'off':<6} {stage_cells(s)}")
    gemm = []
    print(f"\nGPU GEMM TFLOP/s: CUDA backend GEMM path (fused bias + ReLU) vs cuBLAS alone, same shape and "
          f"precision (median of {args.gemm_repeat}; rows = the run's batch, and 8192 for the big model)")
    hdr = f"{'shape m x k -> n':<22} {'prec':<5} {'cuBLAS alone':>12} {'backend':>9} {'backend/cuBLAS':>14}"
    print_header(hdr)
    for name in args.models:
        widths, _, _, _, batch = MODELS[name]
        for m in sorted({batch, 8192}) if name == "big" else [batch]:
            for k, n in zip(widths[:-1], widths[1:]):
                for prec in args.gpu_precisions:
                    r = gemm_bench(args, "cuda", m, k, n, 1, prec)
                    gemm.append(dict(r, model=name))
                    print(f"{f'{m} x {k} -> {n}':<22} {prec:<5} {r['cublas_tflops']:>12.1f} "
                          f"{r['backend_fused_tflops']:>9.1f} {r['backend_fused_tflops'] / r['cublas_tflops']:>13.2f}x")
    result["gpu"] = {"throughput": rows_out, "stages": stages_out, "gemm": gemm,
                     "ragged": "CPU-only in this tool (the CUDA backend has no run_shaped)",
                     "peers": {"torch": have_torch, "torch_under_mpirun": torch_mpi, "ort_cuda": have_ort_cuda}}


# ---------------------------------------------------------------- targets

def targets(result):
    """The issue's targets, each met / missed (None: not measured) with the numbers."""
    out = []

    def add(target, where, met, numbers):
        out.append({"target": target, "where": where, "met": met, "numbers": numbers})

    eff = f"end-to-end >= {TARGET_EFFICIENCY:.0%} of the slowest stage"
    cpu = result.get("cpu") if isinstance(result.get("cpu"), list) else []
    ragged = result.get("ragged_cpu") or {}
    ragged = ragged.get("throughput", []) if isinstance(ragged, dict) else []
    gpu = result.get("gpu") or {}
    for r in cpu + ragged + gpu.get("throughput", []):
        if "stages" not in r:
            continue
        s = r["stages"]
        where = (f"{r['model']} gpu {r['precision']} graphs {'on' if r['tool'].endswith('graphs') else 'off'}"
                 if "precision" in r else f"{r['model']} cpu T={r['threads']}"
                 + (f" {r['tool'].split()[-1]}" if r["model"] == "ragged" else ""))
        add(eff, where, s["efficiency"] >= TARGET_EFFICIENCY,
            f"{s['e2e_rows_s']:,.0f} / {s['slowest_rows_s']:,.0f} rows/s ({s['slowest']}) = {s['efficiency']:.0%}")
    if not gpu.get("throughput"):
        add(eff, "gpu", None, "not measured: " + gpu.get("skipped", "GPU section not run"))

    gemm_t = f"compute-bound GEMMs >= {TARGET_GEMM:.0%} of cuBLAS alone"
    big = [g for g in gpu.get("gemm", []) if g["model"] == "big"]
    for g in big:
        ratio = g["backend_fused_tflops"] / g["cublas_tflops"]
        add(gemm_t, f"{g['m']} x {g['k']} -> {g['n']} {g['precision']}", ratio >= TARGET_GEMM,
            f"{g['backend_fused_tflops']:.1f} / {g['cublas_tflops']:.1f} TFLOP/s = {ratio:.0%}")
    if not big:
        add(gemm_t, "gpu", None, "not measured: " + (gpu.get("skipped") or "no big-model GEMMs in this run"))

    torch_t = f">= {TARGET_TORCH:.0f}x the PyTorch + h5py script"
    torch_rows = [r for r in gpu.get("throughput", []) if r["tool"] == "torch+h5py"]
    for r in torch_rows:
        for label, key in (("graphs off", "ratio_mgi_e2e"), ("graphs on", "ratio_mgi_graphs_e2e")):
            add(torch_t, f"{r['model']} gpu {r['precision']} {label}", r[key] >= TARGET_TORCH,
                f"mgi-mpi / torch e2e = {r[key]:.2f}x (torch {r['e2e_rows_s']:,.0f} rows/s)")
    if not torch_rows:
        add(torch_t, "gpu", None, "not measured: " + (gpu.get("skipped") or "torch not importable"))

    ort_t = f"CPU backend >= {TARGET_ORT:.1f}x onnxruntime (MLP, same threads)"
    ort_rows = [r for r in cpu if r["model"] == "mlp" and r["tool"] == "onnxruntime"]
    for r in ort_rows:
        for label, key in (("e2e", "ratio_mgi_e2e"), ("compute-only", "ratio_mgi_compute")):
            add(ort_t, f"mlp T={r['threads']} {label}", r[key] >= TARGET_ORT,
                f"mgi-mpi / onnxruntime = {r[key]:.2f}x (onnxruntime "
                f"{r['e2e_rows_s' if label == 'e2e' else 'compute_rows_s']:,.0f} rows/s)")
        # The backend alone (mgi-stage-bench: one batch, no read-ahead thread
        # beside it) against session.run in its loop: the compute-only column
        # above counts mgi-mpi's compute while its reader shares the cores.
        st = next((c for c in result.get("cpu_stages") or [] if c["model"] == "mlp"
                   and c["threads"] == r["threads"]), None)
        if st:
            ratio = st["compute_rows_s"] / r["compute_rows_s"]
            add(ort_t, f"mlp T={r['threads']} compute, backend alone", ratio >= TARGET_ORT,
                f"mgi-stage-bench / onnxruntime = {ratio:.2f}x ({st['compute_rows_s']:,.0f} vs "
                f"{r['compute_rows_s']:,.0f} rows/s)")
    if not ort_rows:
        add(ort_t, "cpu", None, "not measured (CPU section skipped or no mlp model)")
    return out


def print_targets(rows):
    print("\nTargets (benchmark goals, not tests)")
    width = max(len(r["where"]) for r in rows)
    last = None
    for r in rows:
        if r["target"] != last:
            print(f"  {r['target']}")
            last = r["target"]
        mark = {True: "met", False: "MISSED", None: "n/a"}[r["met"]]
        print(f"    {mark:<7} {r['where']:<{width}}  {r['numbers']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: " + ", ".join(f"{k}={v}" for k, v in QUICK.items()) + " (explicit options win)")
    ap.add_argument("--threads", help="CPU thread counts T (default 1,2)")
    ap.add_argument("--repeat", type=int, help="runs per measurement (the fastest counts; default 5)")
    ap.add_argument("--gemm-repeat", type=int, help="default 30")
    ap.add_argument("--models", default="mlp,big")
    ap.add_argument("--mlp-rows", type=int, help=f"CPU rows of the MLP (default {MODELS['mlp'][1]})")
    ap.add_argument("--big-rows", type=int, help=f"CPU rows of the big model (default {MODELS['big'][1]})")
    ap.add_argument("--ragged-rows", type=int, help=f"rows of the ragged dataset (default {RAGGED_ROWS})")
    ap.add_argument("--gpu-rows", help="e.g. mlp=1048576,big=32768")
    ap.add_argument("--gpu-precisions", help="default fp32,tf32,bf16")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-ragged", action="store_true")
    ap.add_argument("--skip-gemm", action="store_true")
    ap.add_argument("--skip-gpu", action="store_true")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    defaults = dict(threads="1,2", repeat=5, gemm_repeat=30, mlp_rows=0, big_rows=0, ragged_rows=RAGGED_ROWS,
                    gpu_rows="", gpu_precisions="fp32,tf32,bf16")
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, QUICK[k] if args.quick and k in QUICK else v)

    args.threads = [int(t) for t in args.threads.split(",")]
    args.models = [m for m in args.models.split(",") if m]
    args.gpu_precisions = [p for p in args.gpu_precisions.split(",") if p]
    args.gpu_rows = {k: int(v) for k, v in (kv.split("=") for kv in args.gpu_rows.split(",") if kv)}
    args.build = args.build.resolve()
    args.binary = args.build / "mgi-mpi"
    args.stage_bench = args.build / "bench" / "mgi-stage-bench"
    for exe in (args.binary, args.stage_bench):
        if not exe.exists():
            sys.exit(f"throughput: {exe} not found "
                     f"(cmake --build {args.build} --target mgi-mpi mgi-stage-bench mgi-gemm-bench)")
    work = args.build / "bench" / "throughput"
    work.mkdir(parents=True, exist_ok=True)
    env = mpi_env()
    result = {"date": datetime.date.today().isoformat(), "host": platform.node(), "cores": os.cpu_count(),
              "load_avg_start": os.getloadavg(), "quick": args.quick,
              "config": {"threads": args.threads, "repeat": args.repeat, "gemm_repeat": args.gemm_repeat,
                         "models": {m: {"widths": MODELS[m][0], "batch_cpu": MODELS[m][3], "batch_gpu": MODELS[m][4]}
                                    for m in args.models},
                         "ragged": {"rows": args.ragged_rows, "batch": RAGGED_BATCH, "max_len": RAGGED_MAX_LEN}}}
    try:
        with open("/proc/cpuinfo") as f:
            result["cpu_model"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"throughput: {result.get('cpu_model', platform.processor())}, {os.cpu_count()} cores, "
          f"load average {result['load_avg_start'][0]:.1f}{'; --quick: small sizes, 1 run each' if args.quick else ''}")
    t0 = time.monotonic()
    out = args.out or args.build / "bench" / "throughput.json"
    for section, skip, fn in (("cpu", args.skip_cpu, lambda: cpu_section(args, env, work, result)),
                              ("ragged_cpu", args.skip_ragged, lambda: ragged_section(args, env, work, result)),
                              ("gemm_cpu", args.skip_gemm, lambda: gemm_section(args, result)),
                              ("gpu", args.skip_gpu, lambda: gpu_section(args, env, work, result))):
        if skip:
            result[section] = {"skipped": f"--skip-{section.split('_')[0]}"}
            print(f"\n{section}: skipped (--skip-{section.split('_')[0]})")
        else:
            fn()
        out.write_text(json.dumps(result, indent=2) + "\n")  # a later section's timeout keeps this one
    result["targets"] = targets(result)
    print_targets(result["targets"])
    result["load_avg_end"] = os.getloadavg()
    result["elapsed_s"] = time.monotonic() - t0
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out} ({result['elapsed_s']:.0f} s; load average at the end {result['load_avg_end'][0]:.1f})")


if __name__ == "__main__":
    main()
