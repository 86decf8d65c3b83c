#!/usr/bin/env python3
"""Inputs for the MPI end-to-end tests: a random two-output MLP (ONNX), fresh
random data, edge-size datasets, and a few broken inputs. Seed from time
unless --seed; it is printed so a failure can be replayed."""
import argparse
import os
import time

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp(rng, d_in=48, hidden=200, d_out=10):
    w1 = (rng.standard_normal((hidden, d_in)) / np.sqrt(d_in)).astype(np.float32)
    b1 = (rng.standard_normal(hidden) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((hidden, d_out)) / np.sqrt(hidden)).astype(np.float32)
    b2 = (rng.standard_normal(d_out) * 0.1).astype(np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["hidden"], name="relu1"),
        helper.make_node("MatMul", ["hidden", "w2"], ["z"], name="fc2"),
        helper.make_node("Add", ["z", "b2"], ["logits"], name="bias2"),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "mpi_test_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", d_out]),
         helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", hidden])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by older onnxruntime releases too
    onnx.checker.check_model(model)
    return model


def embedding_model(rng, vocab=50, seq=8, dim=16, out=32):
    """int64 token ids -> embedding table (Gather) -> padding positions (id 0)
    zeroed (Equal, Unsqueeze, Where) -> Reshape to [batch, -1] through the
    Shape -> Gather -> Unsqueeze -> Concat chain a PyTorch export writes ->
    Gemm -> Relu. Exercises typed values and host-computed shapes."""
    table = rng.standard_normal((vocab, dim)).astype(np.float32)
    w = (rng.standard_normal((out, seq * dim)) / np.sqrt(seq * dim)).astype(np.float32)
    b = (rng.standard_normal(out) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in (
        (table, "table"), (w, "w"), (b, "b"), (np.array(0, np.int64), "pad_id"),
        (np.array([2], np.int64), "axis2"), (np.array(0.0, np.float32), "zero"),
        (np.array(0, np.int64), "dim0"), (np.array([0], np.int64), "axis0"),
        (np.array([-1], np.int64), "minus1"))]
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed", axis=0),
        helper.make_node("Equal", ["ids", "pad_id"], ["is_pad"], name="is_pad"),
        helper.make_node("Unsqueeze", ["is_pad", "axis2"], ["is_pad3"], name="unsq"),
        helper.make_node("Where", ["is_pad3", "zero", "emb"], ["masked"], name="mask"),
        helper.make_node("Shape", ["masked"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "dim0"], ["n"], name="batch_dim", axis=0),
        helper.make_node("Unsqueeze", ["n", "axis0"], ["n1"], name="unsq_n"),
        helper.make_node("Concat", ["n1", "minus1"], ["flat_shape"], name="cat", axis=0),
        helper.make_node("Reshape", ["masked", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "w", "b"], ["h"], name="fc", transB=1),
        helper.make_node("Relu", ["h"], ["y"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "embedding",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", seq])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def token_ids(rng, rows=700, vocab=50, seq=8):
    """int32 ids in [1, vocab), each row padded with id 0 after a random length."""
    ids = rng.integers(1, vocab, size=(rows, seq)).astype(np.int32)
    lengths = rng.integers(1, seq + 1, size=rows)
    ids[np.arange(seq)[None, :] >= lengths[:, None]] = 0
    return ids


def conv_model():
    w = numpy_helper.from_array(np.ones((1, 1, 3), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("NonMaxSuppression", ["x", "w"], ["y"], name="nms0")], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 48])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, 46])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def sqrt_model():
    """y = Sqrt(x): a negative input gives NaN in its row (per-row status flags)."""
    graph = helper.make_graph(
        [helper.make_node("Sqrt", ["x"], ["y"], name="sqrt")], "nan_rows",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def write(path, x):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else time.time_ns() % (2**32)
    print(f"make_inputs: seed {seed}")
    rng = np.random.default_rng(seed)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(os.path.join(os.path.dirname(args.out.rstrip("/")), "out"), exist_ok=True)
    onnx.save(mlp(rng), os.path.join(args.out, "mlp.onnx"))
    onnx.save(mlp(rng), os.path.join(args.out, "mlp2.onnx"))  # same shapes, other weights
    onnx.save(conv_model(), os.path.join(args.out, "conv.onnx"))
    onnx.save(embedding_model(rng), os.path.join(args.out, "embedding.onnx"))
    write(os.path.join(args.out, "ids.h5"), token_ids(rng))
    onnx.save(sqrt_model(), os.path.join(args.out, "sqrt.onnx"))
    # Mostly positive; about 1 row in 10 has a negative entry (NaN after Sqrt).
    nan_x = np.abs(rng.standard_normal((500, 4))).astype(np.float32) + 0.1
    bad = rng.choice(500, size=50, replace=False)
    nan_x[bad, rng.integers(0, 4, size=50)] *= -1
    write(os.path.join(args.out, "nan.h5"), nan_x)
    write(os.path.join(args.out, "mlp.h5"), rng.standard_normal((1000, 48)).astype(np.float32))
    with h5py.File(os.path.join(args.out, "mlp.h5"), "a") as f:
        # Heavy-tailed per-row cost (log-normal), for cost-driven splits and tasks.
        f.create_dataset("cost", data=rng.lognormal(3.0, 1.5, 1000).astype(np.float32))
    # Long enough that random kills land mid-run (kill_test.py).
    write(os.path.join(args.out, "kill.h5"), rng.standard_normal((40000, 48)).astype(np.float32))
    write(os.path.join(args.out, "few.h5"), rng.standard_normal((3, 48)).astype(np.float32))
    write(os.path.join(args.out, "empty.h5"), np.zeros((0, 48), np.float32))
    write(os.path.join(args.out, "wrong_width.h5"), rng.standard_normal((10, 63)).astype(np.float32))
    with open(os.path.join(args.out, "mlp.h5.copy"), "w") as f:
        f.write("an existing output\n")
    with open(os.path.join(args.out, "mlp.yaml"), "w") as f:
        f.write(f"""input:
  file: {args.out}/mlp.h5
  dataset: /x
output:
  file: {args.out}/../out/mlp.h5
  dataset: {{y: /y, hidden: /hidden}}
model:
  file: {args.out}/mlp.onnx
runtime:
  device: cpu
  batch_size: 64
mode: static
""")


if __name__ == "__main__":
    main()
