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


def token_model(rng, vocab=60, hidden=16, classes=5, seq="seq", mask=True, token_types=False, pool="mean"):
    """Hugging Face-style encoder head: int64 input_ids (+ int64 attention_mask,
    + int64 token_type_ids) -> embeddings (Gather) -> Tanh -> pooling -> Gemm.
    pool "mean": masked mean over the positions (mask cast to float, MatMul
    pooling); pool "last": the last position (Gather index -1 on seq), which
    padding would change: for a model without a mask."""
    words = rng.standard_normal((vocab, hidden)).astype(np.float32)
    types = rng.standard_normal((2, hidden)).astype(np.float32)
    w = (rng.standard_normal((hidden, classes)) / np.sqrt(hidden)).astype(np.float32)
    b = (rng.standard_normal(classes) * 0.1).astype(np.float32)
    consts = {"words": words, "w": w, "b": b}
    if token_types:
        consts["types"] = types
    if pool == "mean":
        consts.update(row_shape=np.array([0, 1, -1], np.int64), flat_shape=np.array([0, -1], np.int64))
    else:
        consts["last"] = np.array(-1, np.int64)
    n = helper.make_node
    nodes = [n("Gather", ["words", "input_ids"], ["emb"], name="embed", axis=0)]
    x = "emb"
    if token_types:
        nodes += [n("Gather", ["types", "token_type_ids"], ["temb"], name="embed_types", axis=0),
                  n("Add", ["emb", "temb"], ["emb2"], name="add_types")]
        x = "emb2"
    nodes.append(n("Tanh", [x], ["tok"], name="act"))
    if pool == "mean":
        nodes += [
            n("Cast", ["attention_mask"], ["maskf"], name="mask_float", to=TensorProto.FLOAT),
            n("Reshape", ["maskf", "row_shape"], ["m_row"], name="mask_row"),
            n("MatMul", ["m_row", "tok"], ["pooled_sum"], name="masked_sum"),
            n("Transpose", ["m_row"], ["m_col"], name="mask_col", perm=[0, 2, 1]),
            n("MatMul", ["m_row", "m_col"], ["count"], name="mask_count"),
            n("Div", ["pooled_sum", "count"], ["pooled3"], name="masked_mean"),
            n("Reshape", ["pooled3", "flat_shape"], ["pooled"], name="flatten"),
        ]
    else:
        nodes.append(n("Gather", ["tok", "last"], ["pooled"], name="last_token", axis=1))
    nodes.append(n("Gemm", ["pooled", "w", "b"], ["logits"], name="head"))
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", seq])]
    if mask:
        inputs.append(helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", seq]))
    if token_types:
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["batch", seq]))
    graph = helper.make_graph(nodes, "token_encoder", inputs,
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
                              [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def fixed_batch_twins(rng, batch=4, d_in=48, d_out=10):
    """The same MLP twice: inputs fixed at [batch, d_in] (an ONNX Model Zoo style
    export) and with a dynamic batch (the reference, run by onnxruntime)."""
    m = mlp(rng, d_in=d_in, hidden=32, d_out=d_out)
    dyn = onnx.ModelProto()
    dyn.CopyFrom(m)
    for vi in list(m.graph.input) + list(m.graph.output):
        vi.type.tensor_type.shape.dim[0].Clear()
        vi.type.tensor_type.shape.dim[0].dim_value = batch
    onnx.checker.check_model(m)
    return m, dyn


def save_external(model, folder):
    """model.onnx in `folder` with its larger initializers in one data file each
    (two files for the MLP: w1 and w2; b1 and b2 stay inside)."""
    from onnx import external_data_helper
    os.makedirs(folder, exist_ok=True)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    external_data_helper.convert_model_to_external_data(m, all_tensors_to_one_file=False, size_threshold=1024)
    onnx.save_model(m, os.path.join(folder, "model.onnx"))
    files = sorted(f for f in os.listdir(folder) if f != "model.onnx")
    assert len(files) >= 2, files


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
    # Several model inputs from their own datasets: int32 ids and int8 mask rows.
    onnx.save(token_model(rng, seq=12), os.path.join(args.out, "two.onnx"))
    ids = rng.integers(1, 60, size=(301, 12)).astype(np.int32)
    lengths = rng.integers(1, 13, size=301)
    mask = (np.arange(12)[None, :] < lengths[:, None]).astype(np.int8)
    ids[mask == 0] = 0
    with h5py.File(os.path.join(args.out, "two.h5"), "w") as f:
        f.create_dataset("ids", data=ids)
        f.create_dataset("mask", data=mask)
        f.create_dataset("short_mask", data=mask[:300])
    # Variable-length int32 token rows (lengths 1..40), a mask built by the
    # tool, token_type_ids filled; and a mask-less model that must never see padding.
    onnx.save(token_model(rng, token_types=True), os.path.join(args.out, "tokens.onnx"))
    onnx.save(token_model(rng, mask=False, pool="last"), os.path.join(args.out, "nomask.onnx"))
    with h5py.File(os.path.join(args.out, "tokens.h5"), "w") as f:
        dt = h5py.vlen_dtype(np.int32)
        rows = [rng.integers(1, 60, size=int(k)).astype(np.int32) for k in rng.integers(1, 41, size=403)]
        f.create_dataset("tokens", (len(rows),), dtype=dt)[...] = rows
    # A fixed batch of 4 rows ([4, 48]) and 7 input rows: the last batch is padded.
    fixed, fixed_dyn = fixed_batch_twins(rng)
    onnx.save(fixed, os.path.join(args.out, "fixed4.onnx"))
    onnx.save(fixed_dyn, os.path.join(args.out, "fixed4_dynamic.onnx"))
    write(os.path.join(args.out, "seven.h5"), rng.standard_normal((7, 48)).astype(np.float32))
    # The test MLP again, its weights in two external data files.
    save_external(onnx.load(os.path.join(args.out, "mlp.onnx")), os.path.join(args.out, "ext"))
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
    with open(os.path.join(args.out, "two.yaml"), "w") as f:
        f.write(f"""input:
  file: {args.out}/two.h5
  dataset: {{input_ids: /ids, attention_mask: /mask}}
output:
  file: {args.out}/../out/two.h5
  dataset: /logits
model:
  file: {args.out}/two.onnx
runtime:
  device: cpu
  batch_size: 16
""")
    with open(os.path.join(args.out, "nomask.yaml"), "w") as f:
        f.write(f"""input:
  file: {args.out}/tokens.h5
  dataset: /tokens
output:
  file: {args.out}/../out/nomask.h5
  dataset: /logits
model:
  file: {args.out}/nomask.onnx
runtime:
  device: cpu
  batch_size: 8
""")
    with open(os.path.join(args.out, "tokens.yaml"), "w") as f:
        f.write(f"""input:
  file: {args.out}/tokens.h5
  dataset: {{input_ids: /tokens}}
  mask: attention_mask
  fill: {{token_type_ids: 1}}
output:
  file: {args.out}/../out/tokens.h5
  dataset: /logits
model:
  file: {args.out}/tokens.onnx
runtime:
  device: cpu
  batch_size: 8
""")


if __name__ == "__main__":
    main()
