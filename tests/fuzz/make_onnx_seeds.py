#!/usr/bin/env python3
"""Writes seed models for the fuzz_onnx target: one small .onnx per reference case
of tests/python/gen_op_cases.py (every supported op and its variants, the
constant-folding chains, whole models; fixed seed, built without onnxruntime),
plus hand-made models that must be rejected without allocating what they
declare: absurd or overflowing dims, huge folded constants, bad references.

  make_onnx_seeds.py --out DIR [--max-bytes 30000]

tests/fuzz/corpus/onnx holds the subset of these that libFuzzer's -merge=1 kept
(the ones that add coverage); tools/fuzz.sh adds the bundled models at run time.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import gen_op_cases as g  # noqa: E402

node = helper.make_node


def model(nodes, inputs, outputs, inits=(), opset=17, name="seed"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make_onnx_seeds")
    m.ir_version = 8
    return m


def fin(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def raw_tensor(name, dims, raw):
    """A float tensor whose dims need not match its data (make_tensor would refuse)."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, raw_data=raw)
    t.dims.extend(dims)
    return t


def hand_made():
    """Models that probe the size and reference checks (most must fail to load)."""
    x, y = fin("x", ["batch", 4]), fin("y", None)
    out = {}
    # An initializer declaring 2^40 elements with 4 bytes of data: rejected, not allocated.
    big = raw_tensor("w", [1 << 20, 1 << 20], b"\0\0\0\0")
    out["absurd_initializer"] = model([node("MatMul", ["x", "w"], ["y"])], [x], [y], [big])
    # Dims whose product overflows int64.
    ovf = raw_tensor("w", [1 << 62, 1 << 62, 4], b"")
    out["overflow_initializer"] = model([node("Add", ["x", "w"], ["y"])], [x], [y], [ovf])
    neg = raw_tensor("w", [-4], b"")
    out["negative_dim_initializer"] = model([node("Add", ["x", "w"], ["y"])], [x], [y], [neg])
    # Folded constants as large as the loader allows, and past it.
    for tag, dims in (("huge", [1 << 20, 1 << 20]), ("overflow", [1 << 40, 1 << 40])):
        out[f"constant_of_shape_{tag}"] = model(
            [node("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
             node("Add", ["x", "c"], ["y"])], [x], [y], [i64("s", dims)])
    out["range_huge"] = model(
        [node("Range", ["a", "b", "d"], ["r"]), node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
         node("Add", ["x", "rf"], ["y"])], [x], [y],
        [i64("a", 0), i64("b", 1 << 62), i64("d", 1)])
    out["expand_huge"] = model(
        [node("Expand", ["w", "s"], ["e"]), node("Add", ["x", "e"], ["y"])], [x], [y],
        [numpy_helper.from_array(np.ones(4, np.float32), "w"), i64("s", [1 << 31, 1 << 31, 4])])
    out["reshape_huge"] = model([node("Reshape", ["x", "s"], ["y"])], [x], [y], [i64("s", [1 << 40, -1])])
    # Runtime shapes that only fit at some sizes: a huge static row, a fixed batch.
    out["input_huge_row"] = model([node("Relu", ["x"], ["y"])], [fin("x", ["batch", 1 << 40])], [y])
    out["input_fixed_batch"] = model([node("Relu", ["x"], ["y"])], [fin("x", [3, 4])], [y])
    # Ragged-style: a dynamic sequence dim and a mask input, pooled to one row each.
    out["ragged_masked_mean"] = model(
        [node("Unsqueeze", ["m", "ax"], ["m3"]), node("MatMul", ["m3", "x"], ["s3"]),
         node("Flatten", ["s3"], ["s"]), node("Gemm", ["s", "w"], ["y"], transB=1)],
        [fin("x", ["batch", "seq", 3]), fin("m", ["batch", "seq"])], [y],
        [i64("ax", [1]), numpy_helper.from_array(np.ones((2, 3), np.float32), "w")])
    out["seq_softmax"] = model(
        [node("Softmax", ["x"], ["s"], axis=1), node("Transpose", ["s"], ["t"], perm=[0, 2, 1]),
         node("Flatten", ["t"], ["y"])], [fin("x", ["batch", "seq", 2])], [y])
    # Reference errors: an unknown input, a cycle, a value produced twice, an unsupported op.
    out["unknown_input"] = model([node("Add", ["x", "nope"], ["y"])], [x], [y])
    out["cycle"] = model([node("Relu", ["b"], ["a"]), node("Relu", ["a"], ["b"]), node("Add", ["x", "b"], ["y"])],
                         [x], [y])
    out["produced_twice"] = model([node("Relu", ["x"], ["y"]), node("Neg", ["x"], ["y"])], [x], [y])
    out["unsupported_conv"] = model([node("Conv", ["x", "w"], ["y"])], [fin("x", ["batch", 1, 4, 4])], [y],
                                    [numpy_helper.from_array(np.ones((1, 1, 3, 3), np.float32), "w")])
    out["int64_input"] = model([node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)],
                               [helper.make_tensor_value_info("x", TensorProto.INT64, ["batch", 4])], [y])
    out["opset_11_softmax"] = model([node("Softmax", ["x"], ["y"], axis=1)], [fin("x", ["batch", 2, 3])], [y], opset=11)
    out["opset_4_reshape"] = model([node("Reshape", ["x"], ["y"], shape=[0, 2, 2])], [x], [y], opset=4)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-bytes", type=int, default=30000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    written = skipped = 0

    def save(name, m):
        nonlocal written, skipped
        data = m.SerializeToString()
        if len(data) > args.max_bytes:
            skipped += 1
            return
        with open(os.path.join(args.out, f"{name}.onnx"), "wb") as f:
            f.write(data)
        written += 1

    for name, build, opset, _rtol, _batch, _desc in g.CASES:
        rng = np.random.default_rng(12345)
        built = build(rng, 2)
        if isinstance(built[0], onnx.ModelProto):
            save(name, built[0])
        else:
            nodes, ins, inits, outputs = built
            save(name, g.build_model(name, nodes, ins, inits, outputs, opset))
    for name, m in hand_made().items():
        save(name, m)
    print(f"make_onnx_seeds: {written} models in {args.out} ({skipped} over {args.max_bytes} bytes skipped)")


if __name__ == "__main__":
    main()
