#!/usr/bin/env python3
"""Builds the bundled demo: an MLP digit classifier and its input data.

Trains a 64 -> 64 -> 32 -> 10 ReLU MLP on scikit-learn's bundled digits data
(1797 8x8 images, no download) with plain numpy and a fixed seed, exports it to
ONNX and writes the pixels to HDF5:

  models/digits-mlp.onnx   input  "pixels" [batch, 64] float32, raw 0..16 pixels
                           output "probs"  [batch, 10] softmax probabilities
                           output "logits" [batch, 10]
  data/digits.h5           /x      [1797, 64] uint8   raw pixels (the tool converts to float32)
                           /labels [1797]     int64   true digit
                           /is_test [1797]    uint8   1 for rows held out from training

The 1/16 input scaling is a Div node inside the model, so the tool feeds the raw
integer pixels. The layers mix Gemm (transB=1) and MatMul + Add so that a run of
the demo exercises both code paths of a backend.

Run from anywhere: python tools/train_demo.py [--out-dir REPO_ROOT]
Deterministic: the same numpy gives the same files.
"""
import argparse
import os
import sys

import h5py
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20240611
LAYERS = [64, 64, 32, 10]
EPOCHS = 150
BATCH = 64
LR = 2e-3
WEIGHT_DECAY = 1e-4
TEST_FRACTION = 0.25


def init_params(rng):
    params = []
    for fan_in, fan_out in zip(LAYERS[:-1], LAYERS[1:]):
        w = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))  # He init for ReLU
        params.append([w, np.zeros(fan_out)])
    return params


def forward(params, x):
    """Returns logits and the activations the backward pass needs."""
    acts = [x]
    h = x
    for k, (w, b) in enumerate(params):
        h = h @ w + b
        if k + 1 < len(params):
            h = np.maximum(h, 0.0)
        acts.append(h)
    return h, acts


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def train(x, y, rng):
    params = init_params(rng)
    m = [[np.zeros_like(p) for p in layer] for layer in params]
    v = [[np.zeros_like(p) for p in layer] for layer in params]
    b1, b2, eps, step = 0.9, 0.999, 1e-8, 0
    n = x.shape[0]
    for epoch in range(EPOCHS):
        order = rng.permutation(n)
        for start in range(0, n, BATCH):
            idx = order[start:start + BATCH]
            logits, acts = forward(params, x[idx])
            grad = softmax(logits)
            grad[np.arange(len(idx)), y[idx]] -= 1.0
            grad /= len(idx)
            step += 1
            for k in reversed(range(len(params))):
                w, b = params[k]
                gw = acts[k].T @ grad + WEIGHT_DECAY * w
                gb = grad.sum(axis=0)
                if k > 0:
                    grad = (grad @ w.T) * (acts[k] > 0)
                for j, g in enumerate((gw, gb)):
                    m[k][j] = b1 * m[k][j] + (1 - b1) * g
                    v[k][j] = b2 * v[k][j] + (1 - b2) * g * g
                    mhat = m[k][j] / (1 - b1 ** step)
                    vhat = v[k][j] / (1 - b2 ** step)
                    params[k][j] = params[k][j] - LR * mhat / (np.sqrt(vhat) + eps)
    return params


def export_onnx(params, path):
    (w1, b1), (w2, b2), (w3, b3) = [(w.astype(np.float32), b.astype(np.float32)) for w, b in params]
    inits = [
        numpy_helper.from_array(np.array(16.0, dtype=np.float32), "pixel_scale"),
        # Gemm layers store W as [out, in] and use transB=1, as exporters of Linear layers do.
        numpy_helper.from_array(np.ascontiguousarray(w1.T), "fc1.weight"),
        numpy_helper.from_array(b1, "fc1.bias"),
        numpy_helper.from_array(w2, "fc2.weight"),  # [in, out] for MatMul
        numpy_helper.from_array(b2, "fc2.bias"),
        numpy_helper.from_array(np.ascontiguousarray(w3.T), "fc3.weight"),
        numpy_helper.from_array(b3, "fc3.bias"),
    ]
    nodes = [
        helper.make_node("Div", ["pixels", "pixel_scale"], ["x"], name="scale"),
        helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1", transB=1),
        helper.make_node("Relu", ["fc1"], ["h1"], name="relu1"),
        helper.make_node("MatMul", ["h1", "fc2.weight"], ["fc2_mm"], name="fc2_matmul"),
        helper.make_node("Add", ["fc2_mm", "fc2.bias"], ["fc2"], name="fc2_bias"),
        helper.make_node("Relu", ["fc2"], ["h2"], name="relu2"),
        helper.make_node("Gemm", ["h2", "fc3.weight", "fc3.bias"], ["logits"], name="fc3", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "digits_mlp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="mgi-mpi train_demo.py", producer_version="1")
    model.ir_version = 8  # opset 17 belongs to IR version 8; keeps older runtimes happy
    model.doc_string = ("MLP 64-64-32-10 (ReLU) trained on sklearn digits; input raw pixels 0..16, "
                        "scaled by 1/16 inside the model")
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                    help="repository root; writes models/ and data/ under it")
    args = ap.parse_args()
    model_path = os.path.join(args.out_dir, "models", "digits-mlp.onnx")
    data_path = os.path.join(args.out_dir, "data", "digits.h5")
    os.makedirs(os.path.dirname(model_path), exist_ok=True)
    os.makedirs(os.path.dirname(data_path), exist_ok=True)

    digits = load_digits()
    pixels = digits.data.astype(np.uint8)  # integer-valued 0..16
    assert np.array_equal(pixels, digits.data), "digits pixels are not integers"
    labels = digits.target.astype(np.int64)
    rows = np.arange(len(labels))
    train_idx, test_idx = train_test_split(rows, test_size=TEST_FRACTION, random_state=SEED,
                                           stratify=labels)
    rng = np.random.default_rng(SEED)
    x = pixels.astype(np.float64) / 16.0
    params = train(x[train_idx], labels[train_idx], rng)

    model = export_onnx(params, model_path)

    # Check the exported file, not the numpy weights: raw uint8 pixels converted to float32.
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    probs, logits = sess.run(["probs", "logits"], {"pixels": pixels.astype(np.float32)})
    ref_logits, _ = forward(params, x)
    drift = np.abs(logits - ref_logits).max() / np.abs(ref_logits).max()
    if drift > 1e-5:
        sys.exit(f"onnxruntime logits differ from numpy training weights: rel {drift:.3g}")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-5):
        sys.exit("probs rows do not sum to 1")
    pred = probs.argmax(axis=1)
    train_acc = (pred[train_idx] == labels[train_idx]).mean()
    test_acc = (pred[test_idx] == labels[test_idx]).mean()
    if test_acc <= 0.95:
        sys.exit(f"test accuracy {test_acc:.4f} is not above 0.95")

    is_test = np.zeros(len(labels), dtype=np.uint8)
    is_test[test_idx] = 1
    with h5py.File(data_path, "w", track_order=False) as f:
        f.attrs["source"] = ("scikit-learn sklearn.datasets.load_digits: UCI ML optical recognition "
                             "of handwritten digits, 8x8 images, 16 gray levels")
        f.attrs["rows"] = np.int64(len(labels))
        f.attrs["model"] = "models/digits-mlp.onnx (input pixels, outputs probs and logits)"
        f.attrs["split"] = (f"stratified train/test split, test_size={TEST_FRACTION}, "
                            f"random_state={SEED}; /is_test marks held-out rows")
        f.attrs["generator"] = "tools/train_demo.py"
        dx = f.create_dataset("x", data=pixels)
        dx.attrs["description"] = "raw pixels 0..16, row-major 8x8 image per row"
        dl = f.create_dataset("labels", data=labels)
        dl.attrs["description"] = "true digit 0..9"
        dt = f.create_dataset("is_test", data=is_test)
        dt.attrs["description"] = "1 = row held out from training"

    print(f"model: {os.path.normpath(model_path)} ({os.path.getsize(model_path)} bytes, "
          f"{sum(int(np.prod(i.dims)) for i in model.graph.initializer)} parameters)")
    print(f"data:  {os.path.normpath(data_path)} ({os.path.getsize(data_path)} bytes, "
          f"{len(labels)} rows, {len(test_idx)} held out)")
    print(f"train accuracy {train_acc:.4f}  test accuracy {test_acc:.4f}")


if __name__ == "__main__":
    main()
