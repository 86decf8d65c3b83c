#!/usr/bin/env python3
"""Inputs for the pipeline-stage tests and benchmark: a random deep MLP (ONNX)
of `--layers` Gemm+Relu blocks with a residual Add from the first block's
output into the last one (a value that passes through the stages between),
a softmax head and a second output (the last hidden layer), plus fresh random
rows and a config (deep.yaml). Seed from time unless --seed; printed."""
import argparse
import os
import time

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def deep_mlp(rng, layers, d_in, hidden, d_out):
    inits, nodes = [], []
    prev, width = "x", d_in
    first = None
    for i in range(layers):
        w = (rng.standard_normal((hidden, width)) / np.sqrt(width)).astype(np.float32)
        b = (rng.standard_normal(hidden) * 0.1).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"g{i}"], name=f"fc{i}", transB=1))
        out = f"h{i}"
        nodes.append(helper.make_node("Relu", [f"g{i}"], [out], name=f"relu{i}"))
        if i == 0:
            first = out
        if i == layers - 1 and layers > 2:  # residual from the first block
            nodes.append(helper.make_node("Add", [out, first], ["hidden"], name="residual"))
            out = "hidden"
        prev, width = out, hidden
    if prev != "hidden":
        nodes.append(helper.make_node("Identity", [prev], ["hidden"], name="last"))
    wo = (rng.standard_normal((hidden, d_out)) / np.sqrt(hidden)).astype(np.float32)
    inits.append(numpy_helper.from_array(wo, "wo"))
    nodes.append(helper.make_node("MatMul", ["hidden", "wo"], ["logits"], name="head"))
    nodes.append(helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1))
    graph = helper.make_graph(
        nodes, "deep_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", d_out]),
         helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", hidden])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--d-in", type=int, default=32)
    p.add_argument("--hidden", type=int, default=96)
    p.add_argument("--d-out", type=int, default=10)
    p.add_argument("--rows", type=int, default=600)
    p.add_argument("--kill-rows", type=int, default=0, help="also deep_kill.h5 with this many rows (kill test)")
    args = p.parse_args()
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % (2**31)
    print(f"make_deep_inputs.py seed {seed}")
    rng = np.random.default_rng(seed)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(os.path.join(args.out, "..", "out"), exist_ok=True)
    onnx.save(deep_mlp(rng, args.layers, args.d_in, args.hidden, args.d_out), os.path.join(args.out, "deep.onnx"))
    with h5py.File(os.path.join(args.out, "deep.h5"), "w") as f:
        f.create_dataset("x", data=rng.standard_normal((args.rows, args.d_in)).astype(np.float32))
    if args.kill_rows > 0:
        with h5py.File(os.path.join(args.out, "deep_kill.h5"), "w") as f:
            f.create_dataset("x", data=rng.standard_normal((args.kill_rows, args.d_in)).astype(np.float32))
    with open(os.path.join(args.out, "deep.yaml"), "w") as f:
        f.write(f"""input:
  file: {args.out}/deep.h5
  dataset: /x
output:
  file: {args.out}/../out/deep.h5
  dataset: {{y: /y, hidden: /hidden}}
model:
  file: {args.out}/deep.onnx
runtime:
  device: cpu
  batch_size: 16
mode: static
""")


if __name__ == "__main__":
    main()
