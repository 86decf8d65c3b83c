#!/usr/bin/env python3
"""The one-process loops a user would write with onnxruntime or numpy: read a batch
with h5py, compute it, write it to the output file with h5py, in turn.

    python bench/peers/ort_numpy.py --peer ort|ort-cuda|numpy|ort-ragged --model M.onnx \\
        --data D.h5 --out O.h5 --batch B [--threads T]

  ort         onnxruntime, CPU execution provider, intra_op_num_threads T
  ort-cuda    onnxruntime, CUDA execution provider (onnxruntime-gpu)
  numpy       x @ W.T + b and ReLU on the model's weights (numpy's BLAS; set
              OPENBLAS_NUM_THREADS=T)
  ort-ragged  ragged input (values [total, D] or token ids [total] + offsets [N+1],
              as mgi-mpi's input.offsets): each batch of B consecutive rows is read
              with one h5py read of its values, padded to its longest row (0) with a
              mask [B, seq] (the model's second input, or --mask; in the input's own
              type), any further input zeros shaped like the mask (e.g. BERT's
              token_type_ids), and run by onnxruntime (CPU EP, T threads); with
              --sort, all rows are read at once and batches are cut from the rows
              sorted by length (as sentence-transformers' encode() does)
Fixed-shape models read /x and write /y; ragged ones read /values + /offsets and
write /logits (--out-dataset: another name; the model's first output). Prints one JSON line: rows, e2e_s (first read to last write, after
one warm-up batch), read_s, compute_s (inside session.run or numpy), write_s, pad_s.
"""
import argparse
import json
import sys
import time

import h5py
import numpy as np


def load_weights(model_path):
    """[(W [out, in], b [out])] of the benchmark MLP (initializers w0, b0, w1, ...)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(model_path))
    t = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    return [(t[f"w{i}"], t[f"b{i}"]) for i in range(len(t) // 2)]


def ort_session(a, cuda):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    provider = "CUDAExecutionProvider" if cuda else "CPUExecutionProvider"
    sess = ort.InferenceSession(a.model, so, providers=[provider])
    if provider not in sess.get_providers():
        sys.exit(f"peer {a.peer}: provider {provider} not active")
    return sess


def fixed(a):
    if a.peer in ("ort", "ort-cuda"):
        sess = ort_session(a, a.peer == "ort-cuda")

        def compute(x):
            return sess.run(None, {"x": x})[0]
    else:
        layers = [(w.T.copy(), b) for w, b in load_weights(a.model)]  # x @ W^T + b, W^T contiguous once

        def compute(x):
            h = x
            for i, (wt, b) in enumerate(layers):
                h = h @ wt
                h += b
                if i + 1 < len(layers):
                    np.maximum(h, 0, out=h)
            return h

    t = dict(read_s=0.0, compute_s=0.0, write_s=0.0, pad_s=0.0)
    with h5py.File(a.data) as fin, h5py.File(a.out, "w") as fout:
        x = fin["x"]
        rows = x.shape[0]
        compute(np.ascontiguousarray(x[: min(a.batch, rows)]))  # warm-up, like mgi-mpi's prepare
        y = None
        t0 = time.perf_counter()
        for r in range(0, rows, a.batch):
            n = min(a.batch, rows - r)
            t1 = time.perf_counter()
            xb = x[r:r + n]
            t2 = time.perf_counter()
            yb = compute(xb)
            t3 = time.perf_counter()
            if y is None:
                y = fout.create_dataset("y", (rows, yb.shape[1]), dtype="f4")
            y[r:r + n] = yb
            t["read_s"] += t2 - t1
            t["compute_s"] += t3 - t2
            t["write_s"] += time.perf_counter() - t3
        total = time.perf_counter() - t0
    return dict(rows=rows, e2e_s=total, **t)


def ragged(a):
    sess = ort_session(a, False)
    types = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32,
             "tensor(bool)": np.bool_, "tensor(double)": np.float64}
    inputs = {i.name: types[i.type] for i in sess.get_inputs()}
    names = list(inputs)
    data_name = names[0]
    mask_name = a.mask or names[1]
    others = [n for n in names if n not in (data_name, mask_name)]
    t = dict(read_s=0.0, compute_s=0.0, write_s=0.0, pad_s=0.0)

    def batch_inputs(values, offs):
        lengths = np.diff(offs)
        seq = max(1, int(lengths.max()))
        x = np.zeros((len(lengths), seq) + values.shape[1:], inputs[data_name])
        mask = np.zeros((len(lengths), seq), inputs[mask_name])
        for j, (s, n) in enumerate(zip(offs[:-1] - offs[0], lengths)):
            x[j, :n] = values[s:s + n]
            mask[j, :n] = 1
        feed = {data_name: x, mask_name: mask}
        feed.update({n: np.zeros(mask.shape, inputs[n]) for n in others})
        return feed

    if a.sort:
        return ragged_sorted(a, sess, batch_inputs, t)
    with h5py.File(a.data) as fin, h5py.File(a.out, "w") as fout:
        offsets = fin["offsets"][:]  # before the clock, as mgi-mpi reads its offsets before the run
        values = fin["values"]
        rows = len(offsets) - 1
        warm = offsets[:min(a.batch, rows) + 1]
        sess.run(None, batch_inputs(values[warm[0]:warm[-1]], warm))  # warm-up
        y = None
        t0 = time.perf_counter()
        for r in range(0, rows, a.batch):
            n = min(a.batch, rows - r)
            offs = offsets[r:r + n + 1]
            t1 = time.perf_counter()
            v = values[offs[0]:offs[-1]]
            t2 = time.perf_counter()
            feed = batch_inputs(v, offs)
            t3 = time.perf_counter()
            yb = sess.run(None, feed)[0]
            t4 = time.perf_counter()
            if y is None:
                y = fout.create_dataset(a.out_dataset, (rows, yb.shape[1]), dtype="f4")
            y[r:r + n] = yb
            t["read_s"] += t2 - t1
            t["pad_s"] += t3 - t2
            t["compute_s"] += t4 - t3
            t["write_s"] += time.perf_counter() - t4
        total = time.perf_counter() - t0
    return dict(rows=rows, e2e_s=total, **t)


def ragged_sorted(a, sess, batch_inputs, t):
    """--sort: as sentence-transformers' encode() does, every row read at once, batches cut
    from the rows sorted by length (longest first), results put back in input order."""
    with h5py.File(a.data) as fin:
        offsets = fin["offsets"][:]
        rows = len(offsets) - 1
        lengths = np.diff(offsets)
        order = np.argsort(-lengths, kind="stable")
        warm = order[:min(a.batch, rows)]
        v0 = fin["values"][:int(offsets[-1])] if rows else None
        sess.run(None, batch_inputs(*gather_rows(v0, offsets, warm)))  # warm-up
        t0 = time.perf_counter()
        values = fin["values"][:]
        t["read_s"] += time.perf_counter() - t0
    y = None
    for r in range(0, rows, a.batch):
        idx = order[r:r + a.batch]
        t2 = time.perf_counter()
        feed = batch_inputs(*gather_rows(values, offsets, idx))
        t3 = time.perf_counter()
        yb = sess.run(None, feed)[0]
        t4 = time.perf_counter()
        if y is None:
            y = np.empty((rows, yb.shape[1]), np.float32)
        y[idx] = yb
        t["pad_s"] += t3 - t2
        t["compute_s"] += t4 - t3
    t5 = time.perf_counter()
    with h5py.File(a.out, "w") as fout:
        fout.create_dataset(a.out_dataset, data=y)
    t["write_s"] += time.perf_counter() - t5
    return dict(rows=rows, e2e_s=time.perf_counter() - t0, **t)


def gather_rows(values, offsets, idx):
    """The rows idx of a ragged set as (values back to back, offsets from 0)."""
    lengths = offsets[idx + 1] - offsets[idx]
    offs = np.concatenate([[0], np.cumsum(lengths)])
    return np.concatenate([values[offsets[i]:offsets[i + 1]] for i in idx]), offs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", required=True, choices=["ort", "ort-cuda", "numpy", "ort-ragged"])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mask", help="ort-ragged: the mask input (default: the model's second input)")
    ap.add_argument("--sort", action="store_true",
                    help="ort-ragged: batches of rows sorted by length (all rows read at once), as "
                         "sentence-transformers' encode() does")
    ap.add_argument("--out-dataset", default="logits", help="ort-ragged: the output dataset (default logits)")
    a = ap.parse_args()
    res = ragged(a) if a.peer == "ort-ragged" else fixed(a)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
