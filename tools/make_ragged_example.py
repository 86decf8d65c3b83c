#!/usr/bin/env python3
"""Makes the shipped ragged example: variable-length sequences of D-dim tokens
(values [total, D] + offsets [N+1]) and a small model that maps each token
through a tanh layer, takes the masked mean over the sequence
(sum(t * mask) / sum(mask), written with MatMul so only core ONNX ops are
needed), then an MLP to class logits. Padded positions get tanh(b) != 0 before
pooling, so a model that ignored the mask would give wrong answers.

Deterministic for a given seed. The test fixtures import make_model/make_data.
    python tools/make_ragged_example.py            # writes data/ragged.h5, models/ragged-pool.onnx
"""
import argparse
import os

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def make_model(rng, d=8, hidden=32, classes=4):
    wt = (rng.standard_normal((d, hidden)) / np.sqrt(d)).astype(np.float32)
    bt = (rng.standard_normal(hidden) * 0.5).astype(np.float32)
    w1 = (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    b1 = (rng.standard_normal(hidden) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((hidden, classes)) / np.sqrt(hidden)).astype(np.float32)
    b2 = (rng.standard_normal(classes) * 0.1).astype(np.float32)
    consts = {"wt": wt, "bt": bt, "w1": w1, "b1": b1, "w2": w2, "b2": b2,
              "row_mask_shape": np.array([0, 1, -1], np.int64), "flat_shape": np.array([0, -1], np.int64)}
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "wt"], ["tok_lin"], name="token_fc"),
        n("Add", ["tok_lin", "bt"], ["tok_pre"], name="token_bias"),
        n("Tanh", ["tok_pre"], ["tok"], name="token_act"),                       # [B, S, H]
        n("Reshape", ["mask", "row_mask_shape"], ["m_row"], name="mask_row"),   # [B, 1, S]
        n("MatMul", ["m_row", "tok"], ["pooled_sum"], name="masked_sum"),       # [B, 1, H]
        n("Transpose", ["m_row"], ["m_col"], name="mask_col", perm=[0, 2, 1]),  # [B, S, 1]
        n("MatMul", ["m_row", "m_col"], ["count"], name="mask_count"),          # [B, 1, 1]
        n("Div", ["pooled_sum", "count"], ["pooled3"], name="masked_mean"),
        n("Reshape", ["pooled3", "flat_shape"], ["pooled"], name="flatten"),     # [B, H]
        n("Gemm", ["pooled", "w1", "b1"], ["h_pre"], name="fc1"),
        n("Relu", ["h_pre"], ["h"], name="relu1"),
        n("Gemm", ["h", "w2", "b2"], ["logits"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes, "ragged_masked_mean_pool",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", d]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def make_lengths(rng, rows, max_len, min_len=1):
    """Heavy-tailed (log-normal) lengths in [min_len, max_len]."""
    lengths = np.exp(rng.normal(np.log(20), 0.8, rows)).astype(np.int64)
    return np.clip(lengths, min_len, max_len)


def make_data(rng, lengths, d=8):
    offsets = np.zeros(len(lengths) + 1, np.int64)
    offsets[1:] = np.cumsum(lengths)
    values = rng.standard_normal((int(offsets[-1]), d)).astype(np.float32)
    return values, offsets


def write_data(path, values, offsets):
    with h5py.File(path, "w") as f:
        f.create_dataset("values", data=values)
        f.create_dataset("offsets", data=offsets)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/ragged.h5")
    ap.add_argument("--model", default="models/ragged-pool.onnx")
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--max-len", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    onnx.save(make_model(rng), args.model)
    values, offsets = make_data(rng, make_lengths(rng, args.rows, args.max_len))
    write_data(args.data, values, offsets)
    lengths = np.diff(offsets)
    print(f"{args.data}: {args.rows} rows, {len(values)} tokens, lengths {lengths.min()}..{lengths.max()} "
          f"(mean {lengths.mean():.1f}); {args.model}")


if __name__ == "__main__":
    main()
