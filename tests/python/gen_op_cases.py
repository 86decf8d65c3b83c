#!/usr/bin/env python3
"""Writes reference cases for the graph IR: one tiny ONNX model per op variant
(batch 5), a few whole models (batch 17 or 33; model_*), and the bundled demo
model on rows of the demo data, each with random inputs and the outputs
onnxruntime (CPU, graph optimizations off) computes for them.

  gen_op_cases.py --out DIR [--seed S] [--only REGEX] [--list]

Layout, one directory per case:
  DIR/<case>/model.onnx
  DIR/<case>/case.h5    /inputs/0, /inputs/1, ...   float32, dim 0 = batch, in ONNX input order
                        /outputs/0, /outputs/1, ... float32, dim 0 = batch, in ONNX output order
                        each dataset has attribute "name" (the ONNX name); the root has
                        "case", "ops", "opset", "seed", "rtol" and "description".

Every case is also evaluated by the small float64 numpy interpreter below (an
implementation independent of onnxruntime); the script fails if the two
disagree, so a wrong reference is caught here and not blamed on a backend.

Inputs and weights are fresh random numbers on every run. The seed comes from
the clock unless --seed is given and is printed first, so any failure can be
reproduced. Each case draws from its own generator seeded by (seed, case name):
--only selects cases without changing their numbers.

"rtol" is the tolerance a backend must meet: max|out-ref| / max(max|ref|, 1e-6).
It is 1e-5 for every case; cases that need more say why where they are defined.
"""
import argparse
import math
import os
import re
import shutil
import time
import zlib

import h5py
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

RTOL = 1e-5         # backend vs onnxruntime
CROSS_RTOL = 5e-6   # numpy float64 vs onnxruntime float32: guards the reference itself
OP_BATCH = 5
MODEL_BATCH = 17

node = helper.make_node

# ---------------------------------------------------------------- random data


def rnd(rng, shape, kind="normal"):
    """float32 array; `kind` keeps each op inside its domain. Never all zero."""
    shape = tuple(shape)
    if kind == "normal":
        a = rng.standard_normal(shape)
    elif kind == "wide":    # covers the curved part of tanh/erf/gelu/sigmoid and their tails
        a = rng.uniform(-4.0, 4.0, shape)
    elif kind == "pos":     # Log, Sqrt, Pow bases
        a = rng.uniform(0.1, 3.0, shape)
    elif kind == "away":    # divisors: |d| in [0.5, 2]
        a = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    elif kind == "expo":    # Pow exponents
        a = rng.uniform(-2.0, 2.0, shape)
    elif kind == "var":     # BatchNormalization running variance
        a = rng.uniform(0.2, 2.0, shape)
    else:
        raise ValueError(kind)
    a = np.asarray(a, dtype=np.float32)
    if a.size and not a.any():
        a.flat[0] = 1.0
    return a


# ---------------------------------------------------------------- case registry

CASES = []  # (name, build, opset, rtol, batch, description)


def case(name, opset=17, rtol=RTOL, batch=OP_BATCH, desc=""):
    """Registers build(rng, batch) -> (nodes, [(input name, array)], {init name: array}, [output names])."""
    def wrap(build):
        assert re.fullmatch(r"[a-z0-9_]+", name), name
        assert name not in {c[0] for c in CASES}, name
        CASES.append((name, build, opset, rtol, batch, desc))
        return build
    return wrap


def single(name, op, in_specs, init_specs=None, attrs=None, opset=17, rtol=RTOL, order=None, desc=""):
    """One-node case. in_specs: [(name, row shape, kind)], runtime inputs get the batch dim;
    init_specs: [(name, shape, kind)]; order: node input names (default runtime then inits)."""
    init_specs = init_specs or []

    @case(name, opset=opset, rtol=rtol, desc=desc)
    def build(rng, b):
        ins = [(n, rnd(rng, (b,) + tuple(s), k)) for n, s, k in in_specs]
        inits = {n: rnd(rng, s, k) for n, s, k in init_specs}
        names = order or [n for n, _, _ in in_specs] + [n for n, _, _ in init_specs]
        return [node(op, names, ["y"], **(attrs or {}))], ins, inits, ["y"]


# ---- Gemm: every transA/transB/alpha/beta combination; C of every broadcastable shape.
# transA needs A as [K, M] with M the batch: a Transpose in front keeps the batch leading
# at the graph's edges while the Gemm itself reads a transposed A.
def gemm_case(name, ta=0, tb=1, alpha=None, beta=None, c_shape=(5,), c_runtime=False):
    @case(name, desc=f"Gemm transA={ta} transB={tb} alpha={alpha} beta={beta} C={c_shape}"
                     f"{' runtime' if c_runtime else ''}")
    def build(rng, b):
        K, N = 7, 5
        ins = [("a", rnd(rng, (b, K)))]
        inits = {"w": rnd(rng, (N, K) if tb else (K, N))}
        nodes, a = [], "a"
        if ta:
            nodes.append(node("Transpose", ["a"], ["a_t"], perm=[1, 0]))
            a = "a_t"
        gin = [a, "w"]
        if c_shape is not None:
            if c_runtime:
                ins.append(("c", rnd(rng, (b,) + tuple(c_shape))))
            else:
                inits["c"] = rnd(rng, c_shape)
            gin.append("c")
        attrs = {"transA": ta, "transB": tb}
        if alpha is not None:
            attrs["alpha"] = alpha
        if beta is not None:
            attrs["beta"] = beta
        nodes.append(node("Gemm", gin, ["y"], **attrs))
        return nodes, ins, inits, ["y"]


for _ta in (0, 1):
    for _tb in (0, 1):
        gemm_case(f"gemm_ta{_ta}_tb{_tb}", _ta, _tb)
        gemm_case(f"gemm_ta{_ta}_tb{_tb}_alpha_beta", _ta, _tb, alpha=0.5, beta=2.0)
gemm_case("gemm_no_c", c_shape=None)
gemm_case("gemm_no_c_alpha", c_shape=None, alpha=1.5)
gemm_case("gemm_c_1xn", c_shape=(1, 5))
gemm_case("gemm_c_scalar", c_shape=())
gemm_case("gemm_c_1x1", c_shape=(1, 1))
gemm_case("gemm_c_mxn_runtime", c_shape=(5,), c_runtime=True)   # C [batch, N]
gemm_case("gemm_c_mx1_runtime", c_shape=(1,), c_runtime=True)   # C [batch, 1]
gemm_case("gemm_beta0", beta=0.0)
gemm_case("gemm_ta1_tb1_c_runtime", ta=1, tb=1, alpha=-0.75, beta=0.25, c_shape=(5,), c_runtime=True)



# Sizes past BLAS blocking and vector widths (the small cases above may take naive loops).
@case("gemm_wide", desc="Gemm transB=1 [b,300] x [130,300]^T + C[130]")
def _gemm_wide(rng, b):
    return ([node("Gemm", ["a", "w", "c"], ["y"], transB=1)], [("a", rnd(rng, (b, 300)))],
            {"w": rnd(rng, (130, 300)), "c": rnd(rng, (130,))}, ["y"])


@case("gemm_wide_ta1_tb0", desc="Gemm transA=1 (via Transpose) transB=0 [b,257] -> [b,129]")
def _gemm_wide_ta(rng, b):
    return ([node("Transpose", ["a"], ["a_t"], perm=[1, 0]),
             node("Gemm", ["a_t", "w", "c"], ["y"], transA=1, alpha=0.5)], [("a", rnd(rng, (b, 257)))],
            {"w": rnd(rng, (257, 129)), "c": rnd(rng, (1, 129))}, ["y"])


# ---- MatMul: 2-D, 3-D, 4-D, numpy broadcasting of batch dims, both operands runtime, 1-D.
single("matmul_2d", "MatMul", [("x", (7,), "normal")], [("w", (7, 5), "normal")])
single("matmul_3d_const", "MatMul", [("x", (3, 7), "normal")], [("w", (7, 5), "normal")])
single("matmul_3d_runtime", "MatMul", [("x", (3, 7), "normal"), ("z", (7, 4), "normal")])
single("matmul_4d_bcast_const", "MatMul", [("x", (1, 3, 7), "normal")], [("w", (2, 7, 4), "normal")])
single("matmul_4d_bcast_runtime", "MatMul", [("x", (2, 3, 7), "normal"), ("z", (1, 7, 4), "normal")])
single("matmul_4d_const_3d", "MatMul", [("x", (2, 3, 7), "normal")], [("w", (2, 7, 4), "normal")])
single("matmul_wide_3d", "MatMul", [("x", (4, 200), "normal")], [("w", (200, 96), "normal")])
single("matmul_wide_runtime", "MatMul", [("x", (9, 70), "normal"), ("z", (70, 33), "normal")])
single("matmul_vec_rhs", "MatMul", [("x", (3, 7), "normal")], [("w", (7,), "normal")],
       desc="1-D right operand: [b,3,7] @ [7] -> [b,3]")
single("matmul_const_lhs", "MatMul", [("x", (7, 4), "normal")], [("w", (3, 7), "normal")],
       order=["w", "x"], desc="constant left operand broadcast over the batch: [3,7] @ [b,7,4]")

# ---- Binary elementwise ops with numpy broadcasting.
BINARY_KINDS = {"Add": ("normal", "normal"), "Sub": ("normal", "normal"),
                "Mul": ("normal", "normal"), "Div": ("normal", "away"), "Pow": ("pos", "expo")}
# (suffix, runtime inputs [(name, row shape, operand index)], inits [(name, shape, operand index)])
BINARY_PATTERNS = [
    ("same_rt", [("x", (3, 4), 0), ("z", (3, 4), 1)], []),
    ("bcast_rt", [("x", (3, 4), 0), ("z", (1, 4), 1)], []),
    ("bcast_both_rt", [("x", (3, 1), 0), ("z", (1, 4), 1)], []),
    ("bcast_lhs_rt", [("x", (1,), 0), ("z", (6,), 1)], []),
    ("init_row", [("x", (3, 4), 0)], [("c", (4,), 1)]),
    ("init_col", [("x", (3, 4), 0)], [("c", (3, 1), 1)]),
    ("init_scalar", [("x", (3, 4), 0)], [("c", (), 1)]),
    ("init_lhs", [("x", (3, 4), 1)], [("c", (3, 4), 0)]),
    ("init_expand", [("x", (1, 4), 0)], [("c", (3, 4), 1)]),
    ("init_leading1", [("x", (3, 4), 0)], [("c", (1, 3, 4), 1)]),
]
for _op, _kinds in BINARY_KINDS.items():
    for _sfx, _rt, _it in BINARY_PATTERNS:
        _order = [n for n, _, i in sorted(_rt + _it, key=lambda t: t[2])]
        single(f"{_op.lower()}_{_sfx}", _op,
               [(n, s, _kinds[i]) for n, s, i in _rt], [(n, s, _kinds[i]) for n, s, i in _it],
               order=_order)
# What exported layer norms and polynomial activations do: constant integer exponents on
# bases of either sign.
def pow_const_case(name, exponent, kind):
    @case(name, desc=f"Pow with constant exponent {exponent}")
    def build(rng, b):
        return ([node("Pow", ["x", "e"], ["y"])], [("x", rnd(rng, (b, 3, 4), kind))],
                {"e": np.array(exponent, dtype=np.float32)}, ["y"])


pow_const_case("pow_const2_neg_base", 2.0, "normal")
pow_const_case("pow_const3_neg_base", 3.0, "normal")
pow_const_case("pow_const_half", 0.5, "pos")

# ---- Unary ops.
UNARY = [("relu", "Relu", "normal", {}, 17), ("leakyrelu_default", "LeakyRelu", "normal", {}, 17),
         ("leakyrelu_alpha", "LeakyRelu", "normal", {"alpha": 0.2}, 17),
         ("sigmoid", "Sigmoid", "wide", {}, 17), ("tanh", "Tanh", "wide", {}, 17),
         ("erf", "Erf", "wide", {}, 17), ("gelu", "Gelu", "wide", {}, 20),
         ("gelu_tanh", "Gelu", "wide", {"approximate": "tanh"}, 20),
         ("exp", "Exp", "wide", {}, 17), ("log", "Log", "pos", {}, 17), ("sqrt", "Sqrt", "pos", {}, 17),
         ("neg", "Neg", "normal", {}, 17), ("abs", "Abs", "normal", {}, 17),
         ("identity", "Identity", "normal", {}, 17), ("dropout", "Dropout", "normal", {}, 13),
         ("cast_float", "Cast", "normal", {"to": TensorProto.FLOAT}, 17)]
for _name, _op, _kind, _attrs, _opset in UNARY:
    single(_name, _op, [("x", (3, 7), _kind)], attrs=_attrs, opset=_opset)


@case("relu_zeros", desc="exact zeros and negative zero")
def _relu_zeros(rng, b):
    x = rnd(rng, (b, 8))
    x[:, :2] = 0.0
    x[:, 2] = -0.0
    return [node("Relu", ["x"], ["y"])], [("x", x)], {}, ["y"]


@case("dropout_ratio", opset=17, desc="Dropout with a ratio input: inference mode, an identity")
def _dropout_ratio(rng, b):
    return ([node("Dropout", ["x", "ratio"], ["y"])], [("x", rnd(rng, (b, 3, 4)))],
            {"ratio": np.array(0.4, dtype=np.float32)}, ["y"])


# ---- Softmax / LogSoftmax: opset 11 flattens [.., axis:] into one softmax, opset 13 uses one axis.
for _op in ("Softmax", "LogSoftmax"):
    for _opset, _axes in ((13, (-1, 1, 2, -2, None)), (11, (1, 2, -1, None))):
        for _axis in _axes:
            _an = "default" if _axis is None else (f"m{-_axis}" if _axis < 0 else str(_axis))
            single(f"{_op.lower()}_op{_opset}_axis_{_an}", _op, [("x", (3, 4, 5), "normal")],
                   attrs={} if _axis is None else {"axis": _axis}, opset=_opset)
    single(f"{_op.lower()}_2d_default", _op, [("x", (10,), "normal")])

    @case(f"{_op.lower()}_large", desc="inputs up to +-200: needs the max subtraction")
    def _softmax_large(rng, b, _op=_op):
        return [node(_op, ["x"], ["y"], axis=-1)], [("x", rnd(rng, (b, 3, 6)) * 60.0)], {}, ["y"]

# ---- Layout ops.
# Flatten keeps the batch as dim 0 only for an axis that points at dim 1 (axis 2 on
# [b,2,3,4] gives [2b, 12]), so those are the axes a batched model can use.
single("flatten_default", "Flatten", [("x", (2, 3, 4), "normal")])
single("flatten_axis_1", "Flatten", [("x", (2, 3, 4), "normal")], attrs={"axis": 1})
single("flatten_axis_m3", "Flatten", [("x", (2, 3, 4), "normal")], attrs={"axis": -3})
single("flatten_2d_axis_m1", "Flatten", [("x", (7,), "normal")], attrs={"axis": -1})


def reshape_case(name, row_in, target, desc=""):
    @case(name, desc=desc or f"Reshape [b,{row_in}] -> {target}")
    def build(rng, b):
        return ([node("Reshape", ["x", "shape"], ["y"])], [("x", rnd(rng, (b,) + row_in))],
                {"shape": np.array(target, dtype=np.int64)}, ["y"])


reshape_case("reshape_0_3_4", (12,), [0, 3, 4])
reshape_case("reshape_0_m1", (3, 4), [0, -1])
reshape_case("reshape_m1_6_4", (2, 3, 4), [-1, 6, 4])
reshape_case("reshape_0_2_m1_3", (12,), [0, 2, -1, 3])
reshape_case("reshape_0_0_2_2", (3, 4), [0, 0, 2, 2])


@case("reshape_constant_node", desc="shape from a Constant node with an int64 tensor")
def _reshape_constant_node(rng, b):
    shape = numpy_helper.from_array(np.array([0, 4, 3], dtype=np.int64), "shape_value")
    return ([node("Constant", [], ["shape"], value=shape), node("Reshape", ["x", "shape"], ["y"])],
            [("x", rnd(rng, (b, 12)))], {}, ["y"])


@case("reshape_constant_ints", desc="shape from a Constant node with value_ints")
def _reshape_constant_ints(rng, b):
    return ([node("Constant", [], ["shape"], value_ints=[0, -1]), node("Reshape", ["x", "shape"], ["y"])],
            [("x", rnd(rng, (b, 3, 4)))], {}, ["y"])


@case("reshape_batch_from_shape",
      desc="x.view(x.size(0), 4, -1) as exporters write it: Shape, Gather, Unsqueeze, Concat, Reshape")
def _reshape_batch_from_shape(rng, b):
    zero = numpy_helper.from_array(np.array(0, dtype=np.int64), "zero_value")
    tail = numpy_helper.from_array(np.array([4, -1], dtype=np.int64), "tail_value")
    axes = numpy_helper.from_array(np.array([0], dtype=np.int64), "axes_value")
    return ([node("Shape", ["x"], ["xs"]), node("Constant", [], ["zero"], value=zero),
             node("Gather", ["xs", "zero"], ["n"], axis=0), node("Constant", [], ["axes"], value=axes),
             node("Unsqueeze", ["n", "axes"], ["n1"]), node("Constant", [], ["tail"], value=tail),
             node("Concat", ["n1", "tail"], ["shape"], axis=0), node("Reshape", ["x", "shape"], ["y"])],
            [("x", rnd(rng, (b, 3, 8)))], {}, ["y"])


single("transpose_021", "Transpose", [("x", (3, 4), "normal")], attrs={"perm": [0, 2, 1]})
single("transpose_0312", "Transpose", [("x", (2, 3, 4), "normal")], attrs={"perm": [0, 3, 1, 2]})
single("transpose_0213", "Transpose", [("x", (2, 3, 4), "normal")], attrs={"perm": [0, 2, 1, 3]})


@case("transpose_const_folded", desc="Transpose (default perm) of an initializer, folded at load")
def _transpose_const(rng, b):
    return ([node("Transpose", ["w"], ["w_t"]), node("MatMul", ["x", "w_t"], ["y"])],
            [("x", rnd(rng, (b, 7)))], {"w": rnd(rng, (5, 7))}, ["y"])


# ---- Normalizations.
def batchnorm_case(name, row, eps=None):
    @case(name, desc=f"BatchNormalization (inference) on [b,{row}] eps={eps}")
    def build(rng, b):
        C = row[0]
        attrs = {} if eps is None else {"epsilon": eps}
        return ([node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], **attrs)],
                [("x", rnd(rng, (b,) + row))],
                {"scale": rnd(rng, (C,)), "bias": rnd(rng, (C,)), "mean": rnd(rng, (C,)),
                 "var": rnd(rng, (C,), "var")}, ["y"])


batchnorm_case("batchnorm_2d", (6,))
batchnorm_case("batchnorm_3d", (4, 7), eps=1e-3)
batchnorm_case("batchnorm_4d", (3, 4, 5))


def layernorm_case(name, row, axis, bias=True, eps=None):
    @case(name, desc=f"LayerNormalization on [b,{row}] axis={axis} bias={bias} eps={eps}")
    def build(rng, b):
        attrs = {}
        if axis is not None:
            attrs["axis"] = axis
        if eps is not None:
            attrs["epsilon"] = eps
        a = -1 if axis is None else axis
        norm = tuple(row[a:]) if a < 0 else tuple(row[a - 1:])
        inits = {"scale": rnd(rng, norm)}
        if bias:
            inits["bias"] = rnd(rng, norm)
        return ([node("LayerNormalization", ["x"] + list(inits), ["y"], **attrs)],
                [("x", rnd(rng, (b,) + row) * 3.0 + 1.0)], inits, ["y"])


layernorm_case("layernorm_last", (3, 8), -1)
layernorm_case("layernorm_default_axis", (10,), None)
layernorm_case("layernorm_axis1", (3, 4), 1)
layernorm_case("layernorm_axis_m2", (2, 3, 4), -2, eps=1e-3)
layernorm_case("layernorm_no_bias", (12,), -1, bias=False)


# ---- Constants, casts and folding.
@case("constant_tensor", desc="Constant node with a float tensor")
def _constant_tensor(rng, b):
    c = numpy_helper.from_array(rnd(rng, (3, 4)), "c_value")
    return ([node("Constant", [], ["c"], value=c), node("Add", ["x", "c"], ["y"])],
            [("x", rnd(rng, (b, 3, 4)))], {}, ["y"])


@case("constant_value_float", desc="Constant node with value_float")
def _constant_value_float(rng, b):
    return ([node("Constant", [], ["c"], value_float=2.5), node("Mul", ["x", "c"], ["y"])],
            [("x", rnd(rng, (b, 3, 4)))], {}, ["y"])


@case("constant_value_floats", desc="Constant node with value_floats")
def _constant_value_floats(rng, b):
    return ([node("Constant", [], ["c"], value_floats=[float(v) for v in rnd(rng, (4,))]),
             node("Sub", ["x", "c"], ["y"])], [("x", rnd(rng, (b, 3, 4)))], {}, ["y"])


@case("cast_int64_init", desc="int64 initializer cast to float, folded at load")
def _cast_int64_init(rng, b):
    return ([node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT), node("Mul", ["x", "kf"], ["y"])],
            [("x", rnd(rng, (b, 3, 4)))], {"k": rng.integers(-5, 6, (4,)).astype(np.int64)}, ["y"])


@case("cast_int64_constant", desc="Constant int64 tensor cast to float, folded at load")
def _cast_int64_constant(rng, b):
    k = numpy_helper.from_array(rng.integers(1, 9, (3, 1)).astype(np.int64), "k_value")
    return ([node("Constant", [], ["k"], value=k), node("Cast", ["k"], ["kf"], to=TensorProto.FLOAT),
             node("Div", ["x", "kf"], ["y"])], [("x", rnd(rng, (b, 3, 4)))], {}, ["y"])


@case("fold_chain", desc="a chain of constant-only nodes (Sqrt, Add, Mul) folded at load")
def _fold_chain(rng, b):
    return ([node("Sqrt", ["c"], ["c1"]), node("Add", ["c1", "d"], ["c2"]), node("Mul", ["c2", "c2"], ["c3"]),
             node("Div", ["x", "c3"], ["y"])], [("x", rnd(rng, (b, 3, 4)))],
            {"c": rnd(rng, (4,), "pos"), "d": rnd(rng, (3, 1), "pos")}, ["y"])


@case("two_outputs_chained", desc="two graph outputs, the first also feeds the second")
def _two_outputs(rng, b):
    return ([node("Relu", ["x"], ["y1"]), node("Neg", ["y1"], ["y2"])], [("x", rnd(rng, (b, 6)))], {},
            ["y1", "y2"])


@case("output_reused_input", desc="one runtime input read by three nodes")
def _reused_input(rng, b):
    return ([node("Mul", ["x", "x"], ["sq"]), node("Sub", ["sq", "x"], ["d"]), node("Add", ["d", "x"], ["y"])],
            [("x", rnd(rng, (b, 5)))], {}, ["y"])


# ---- Reductions, index ops, Einsum (reduce.cpp, gather_scatter.cpp, einsum.cpp). Never along the batch
# dim (a row's result must not depend on the other rows). Integer outputs (ArgMax, TopK indices) go
# through a Cast to float; integer indices come from a runtime float input by Cast (truncation).
def i64(v):
    return np.asarray(v, dtype=np.int64)


def reduce_case(name, op, opset, axes, keepdims=1, as_input=True, kind="normal", row=(4, 6), noop=None):
    @case(name, opset=opset, desc=f"{op} opset {opset} axes {axes} ({'input' if as_input else 'attribute'}) "
                                  f"keepdims {keepdims}" + ("" if noop is None else f" noop_with_empty_axes {noop}"))
    def build(rng, b):
        attrs = {"keepdims": keepdims}
        if noop is not None:
            attrs["noop_with_empty_axes"] = noop
        inits, names = {}, ["x"]
        if as_input:
            inits["axes"] = i64(axes)
            names.append("axes")
        elif axes:
            attrs["axes"] = axes
        return [node(op, names, ["y"], **attrs)], [("x", rnd(rng, (b,) + row, kind))], inits, ["y"]


reduce_case("reduce_sum_axes_input", "ReduceSum", 13, [-1], keepdims=0)
reduce_case("reduce_sum_axes_attr_opset11", "ReduceSum", 11, [1, 2], as_input=False)
reduce_case("reduce_sum_noop_empty_axes", "ReduceSum", 13, [], noop=1)
reduce_case("reduce_mean_attr_opset17", "ReduceMean", 17, [1], keepdims=0, as_input=False)
reduce_case("reduce_max_opset18", "ReduceMax", 18, [2])
reduce_case("reduce_min_opset18", "ReduceMin", 18, [1, -1], keepdims=0)
reduce_case("reduce_prod_opset18", "ReduceProd", 18, [2], keepdims=0, kind="away")
reduce_case("reduce_l1_opset18", "ReduceL1", 18, [1])
reduce_case("reduce_l2_opset18", "ReduceL2", 18, [-1], keepdims=0)
reduce_case("reduce_logsumexp_opset18", "ReduceLogSumExp", 18, [1, 2], keepdims=0, kind="wide")
reduce_case("reduce_sumsquare_attr_opset13", "ReduceSumSquare", 13, [2], as_input=False)


def arg_case(name, op, axis, keepdims, last):
    @case(name, opset=13, desc=f"{op} axis {axis} keepdims {keepdims} select_last_index {last}, ties, cast to float")
    def build(rng, b):
        x = np.round(rnd(rng, (b, 4, 6)) * 2).astype(np.float32) / 2  # few distinct values: ties
        return ([node(op, ["x"], ["i"], axis=axis, keepdims=keepdims, select_last_index=last),
                 node("Cast", ["i"], ["y"], to=TensorProto.FLOAT)], [("x", x)], {}, ["y"])


arg_case("argmax_last_ties", "ArgMax", -1, 0, 1)
arg_case("argmin_first_ties", "ArgMin", 1, 1, 0)


@case("cumsum_exclusive_reverse", opset=14, desc="CumSum axis 1 (int64 scalar), exclusive, reverse")
def _cumsum(rng, b):
    return ([node("CumSum", ["x", "axis"], ["y"], exclusive=1, reverse=1)], [("x", rnd(rng, (b, 6, 3)))],
            {"axis": i64(1)}, ["y"])


@case("cumsum_last_axis", opset=11, desc="CumSum axis -1 (int32 [1])")
def _cumsum_last(rng, b):
    return ([node("CumSum", ["x", "axis"], ["y"])], [("x", rnd(rng, (b, 3, 7)))],
            {"axis": np.asarray([-1], dtype=np.int32)}, ["y"])


def topk_case(name, largest, axis):
    @case(name, opset=11, desc=f"TopK k=3 axis {axis} largest {largest}, ties; values and indices (cast)")
    def build(rng, b):
        x = np.round(rnd(rng, (b, 5, 6)) * 2).astype(np.float32) / 2
        return ([node("TopK", ["x", "k"], ["v", "i"], axis=axis, largest=largest),
                 node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT)], [("x", x)], {"k": i64([3])}, ["v", "fi"])


topk_case("topk_largest_last_axis", 1, -1)
topk_case("topk_smallest_axis1", 0, 1)


@case("split_input_three", opset=13, desc="Split axis 1 by the split input [2, 3, 1]: three outputs")
def _split_input(rng, b):
    return ([node("Split", ["x", "s"], ["y0", "y1", "y2"], axis=1)], [("x", rnd(rng, (b, 6, 2)))],
            {"s": i64([2, 3, 1])}, ["y0", "y1", "y2"])


@case("split_num_outputs_uneven", opset=18, desc="Split opset 18 num_outputs 3 of 7: 3, 3, 1")
def _split_num(rng, b):
    return ([node("Split", ["x"], ["y0", "y1", "y2"], axis=-1, num_outputs=3)], [("x", rnd(rng, (b, 2, 7)))],
            {}, ["y0", "y1", "y2"])


@case("split_attr_opset11", opset=11, desc="Split opset 11 split attribute [1, 4], axis 2")
def _split_attr(rng, b):
    return ([node("Split", ["x"], ["y0", "y1"], axis=2, split=[1, 4])], [("x", rnd(rng, (b, 3, 5)))], {},
            ["y0", "y1"])


@case("tile_repeats", opset=13, desc="Tile repeats [1, 2, 3]")
def _tile(rng, b):
    return ([node("Tile", ["x", "r"], ["y"])], [("x", rnd(rng, (b, 3, 2)))], {"r": i64([1, 2, 3])}, ["y"])


def trilu_case(name, upper, k):
    @case(name, opset=14, desc=f"Trilu upper {upper} k {k}")
    def build(rng, b):
        return ([node("Trilu", ["x", "k"], ["y"], upper=upper)], [("x", rnd(rng, (b, 4, 5)))], {"k": i64(k)}, ["y"])


trilu_case("trilu_upper_k1", 1, 1)
trilu_case("trilu_lower_kneg1", 0, -1)


@case("gather_elements_axis2", opset=13, desc="GatherElements axis 2, int64 indices (negative too) from a Cast")
def _gather_elements(rng, b):
    idx = rng.uniform(-4.99, 4.99, (b, 3, 4)).astype(np.float32)
    return ([node("Cast", ["xi"], ["i"], to=TensorProto.INT64), node("GatherElements", ["x", "i"], ["y"], axis=2)],
            [("x", rnd(rng, (b, 3, 5))), ("xi", idx)], {}, ["y"])


@case("gather_nd_batch_dims1", opset=13, desc="GatherND batch_dims 1, int64 indices (negative too) from a Cast")
def _gather_nd(rng, b):
    idx = rng.uniform(-3.99, 3.99, (b, 2, 1)).astype(np.float32)
    return ([node("Cast", ["xi"], ["i"], to=TensorProto.INT64), node("GatherND", ["x", "i"], ["y"], batch_dims=1)],
            [("x", rnd(rng, (b, 4, 5))), ("xi", idx)], {}, ["y"])


def einsum_case(name, eq, a_row, b_shape=None, b_runtime=True):
    @case(name, opset=13, desc=f"Einsum {eq}")
    def build(rng, b):
        ins = [("a", rnd(rng, (b,) + a_row))]
        inits = {}
        if b_shape is not None:
            if b_runtime:
                ins.append(("b", rnd(rng, (b,) + b_shape)))
            else:
                inits["b"] = rnd(rng, b_shape)
        names = ["a"] + (["b"] if b_shape is not None else [])
        return [node("Einsum", names, ["y"], equation=eq)], ins, inits, ["y"]


einsum_case("einsum_bij_bjk", "bij,bjk->bik", (3, 4), (4, 5))
einsum_case("einsum_attention_scores", "bhid,bhjd->bhij", (2, 3, 8), (2, 4, 8))
einsum_case("einsum_attention_values", "bhij,bhjd->bhid", (2, 3, 4), (2, 4, 8))
einsum_case("einsum_ellipsis_matmul", "...ij,...jk->...ik", (2, 3, 4), (2, 4, 5))
einsum_case("einsum_bi_bi", "bi,bi->b", (7,), (7,))
einsum_case("einsum_bi_ij_weights", "bi,ij->bj", (6,), (6, 4), b_runtime=False)
einsum_case("einsum_transpose", "bij->bji", (3, 4))
einsum_case("einsum_reduce", "bij->bi", (3, 4))


# ---------------------------------------------------------------- whole models

def mcase(name, opset=17, rtol=RTOL, desc=""):
    return case(name, opset=opset, rtol=rtol, batch=MODEL_BATCH, desc=desc)


def weights(rng, fan_in, fan_out, transposed=False):
    w = rnd(rng, (fan_out, fan_in) if transposed else (fan_in, fan_out)) / np.float32(math.sqrt(fan_in))
    return w.astype(np.float32)


@mcase("model_mlp_relu_gemm", desc="3-layer ReLU MLP with Gemm transB=1, Softmax output")
def _model_mlp_relu(rng, b):
    dims, nodes, inits, h = [32, 64, 48, 10], [], {}, "x"
    for k in range(3):
        inits[f"w{k}"] = weights(rng, dims[k], dims[k + 1], transposed=True)
        inits[f"b{k}"] = rnd(rng, (dims[k + 1],)) * np.float32(0.1)
        out = f"fc{k}" if k < 2 else "logits"
        nodes.append(node("Gemm", [h, f"w{k}", f"b{k}"], [out], transB=1))
        if k < 2:
            nodes.append(node("Relu", [out], [f"h{k}"]))
            h = f"h{k}"
    nodes.append(node("Softmax", ["logits"], ["probs"], axis=1))
    return nodes, [("x", rnd(rng, (b, 32)))], inits, ["probs"]


@case("model_wide_mlp", batch=33, desc="256-512-256-10 Relu/Sigmoid MLP, batch 33: BLAS-sized layers")
def _model_wide_mlp(rng, b):
    dims, nodes, inits, h = [256, 512, 256, 10], [], {}, "x"
    for k in range(3):
        inits[f"w{k}"] = weights(rng, dims[k], dims[k + 1], transposed=(k != 1))
        inits[f"b{k}"] = rnd(rng, (dims[k + 1],)) * np.float32(0.1)
        if k != 1:
            nodes.append(node("Gemm", [h, f"w{k}", f"b{k}"], [f"z{k}"], transB=1))
        else:
            nodes += [node("MatMul", [h, f"w{k}"], [f"m{k}"]), node("Add", [f"m{k}", f"b{k}"], [f"z{k}"])]
        if k < 2:
            nodes.append(node("Relu" if k == 0 else "Sigmoid", [f"z{k}"], [f"h{k}"]))
            h = f"h{k}"
    return nodes, [("x", rnd(rng, (b, 256)))], inits, ["z2"]


@mcase("model_tanh_matmul_deep", desc="6 MatMul+Add layers with Tanh, uneven widths")
def _model_tanh_deep(rng, b):
    dims, nodes, inits, h = [20, 40, 40, 30, 30, 16, 8], [], {}, "x"
    for k in range(len(dims) - 1):
        inits[f"w{k}"] = weights(rng, dims[k], dims[k + 1]) * np.float32(1.5)
        inits[f"b{k}"] = rnd(rng, (dims[k + 1],)) * np.float32(0.2)
        nodes += [node("MatMul", [h, f"w{k}"], [f"mm{k}"]), node("Add", [f"mm{k}", f"b{k}"], [f"z{k}"])]
        if k < len(dims) - 2:
            nodes.append(node("Tanh", [f"z{k}"], [f"h{k}"]))
            h = f"h{k}"
    return nodes, [("x", rnd(rng, (b, 20)))], inits, [f"z{len(dims) - 2}"]


@mcase("model_bn_sigmoid", desc="Gemm -> BatchNormalization -> Sigmoid -> Gemm -> LeakyRelu -> Gemm")
def _model_bn_sigmoid(rng, b):
    inits = {"w0": weights(rng, 24, 32, transposed=True), "b0": rnd(rng, (32,)),
             "bn_scale": rnd(rng, (32,)), "bn_bias": rnd(rng, (32,)), "bn_mean": rnd(rng, (32,)),
             "bn_var": rnd(rng, (32,), "var"),
             "w1": weights(rng, 32, 16), "b1": rnd(rng, (16,)),
             "w2": weights(rng, 16, 4, transposed=True), "b2": rnd(rng, (1, 4))}
    nodes = [node("Gemm", ["x", "w0", "b0"], ["fc0"], transB=1),
             node("BatchNormalization", ["fc0", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"],
                  epsilon=1e-3),
             node("Sigmoid", ["bn"], ["s"]),
             node("Gemm", ["s", "w1", "b1"], ["fc1"]),
             node("LeakyRelu", ["fc1"], ["l"], alpha=0.1),
             node("Gemm", ["l", "w2", "b2"], ["y"], transB=1, alpha=0.8)]
    return nodes, [("x", rnd(rng, (b, 24)))], inits, ["y"]


@mcase("model_layernorm_like_erf_gelu",
       desc="tokens [b,6,16]: MatMul+Add, layer norm built from MatMul(mean)/Sub/Pow/Sqrt/Div, "
            "Erf-based Gelu as pre-opset-20 exporters write it, Flatten, Gemm")
def _model_layernorm_like(rng, b):
    D = 32
    inits = {"w_in": weights(rng, 16, D), "b_in": rnd(rng, (D,)),
             "mean_vec": np.full((D, 1), 1.0 / D, dtype=np.float32),
             "two": np.array(2.0, dtype=np.float32), "eps": np.array(1e-5, dtype=np.float32),
             "gamma": rnd(rng, (D,)), "beta": rnd(rng, (D,)),
             "inv_sqrt2": np.array(1.0 / math.sqrt(2.0), dtype=np.float32),
             "one": np.array(1.0, dtype=np.float32), "half": np.array(0.5, dtype=np.float32),
             "w_out": weights(rng, 6 * D, 5, transposed=True), "b_out": rnd(rng, (5,))}
    nodes = [node("MatMul", ["x", "w_in"], ["p"]), node("Add", ["p", "b_in"], ["h"]),
             node("MatMul", ["h", "mean_vec"], ["mu"]), node("Sub", ["h", "mu"], ["d"]),
             node("Pow", ["d", "two"], ["d2"]), node("MatMul", ["d2", "mean_vec"], ["var"]),
             node("Add", ["var", "eps"], ["ve"]), node("Sqrt", ["ve"], ["sd"]),
             node("Div", ["d", "sd"], ["n"]), node("Mul", ["n", "gamma"], ["ng"]),
             node("Add", ["ng", "beta"], ["ln"]),
             node("Mul", ["ln", "inv_sqrt2"], ["g0"]), node("Erf", ["g0"], ["g1"]),
             node("Add", ["g1", "one"], ["g2"]), node("Mul", ["ln", "g2"], ["g3"]),
             node("Mul", ["g3", "half"], ["g"]),
             node("Flatten", ["g"], ["f"]), node("Gemm", ["f", "w_out", "b_out"], ["y"], transB=1)]
    return nodes, [("x", rnd(rng, (b, 6, 16)))], inits, ["y"]


@mcase("model_mixer_block_two_outputs", opset=20,
       desc="token-mixing Transpose+MatMul, residual Adds, LayerNormalization, Gelu(tanh) MLP, "
            "Flatten, Gemm; outputs probs and log-probs")
def _model_mixer(rng, b):
    T, D, H = 6, 16, 32
    inits = {"w_tok": weights(rng, T, T), "b_tok": rnd(rng, (T,)),
             "ln_s": rnd(rng, (D,)), "ln_b": rnd(rng, (D,)),
             "w1": weights(rng, D, H), "b1": rnd(rng, (H,)),
             "w2": weights(rng, H, D), "b2": rnd(rng, (D,)),
             "w_head": weights(rng, T * D, 7, transposed=True), "b_head": rnd(rng, (7,))}
    nodes = [node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
             node("MatMul", ["xt", "w_tok"], ["tm"]), node("Add", ["tm", "b_tok"], ["tmb"]),
             node("Transpose", ["tmb"], ["tmt"], perm=[0, 2, 1]),
             node("Add", ["x", "tmt"], ["r1"]),
             node("LayerNormalization", ["r1", "ln_s", "ln_b"], ["n1"], axis=-1),
             node("MatMul", ["n1", "w1"], ["m1"]), node("Add", ["m1", "b1"], ["a1"]),
             node("Gelu", ["a1"], ["g1"], approximate="tanh"),
             node("MatMul", ["g1", "w2"], ["m2"]), node("Add", ["m2", "b2"], ["a2"]),
             node("Add", ["r1", "a2"], ["r2"]),
             node("Flatten", ["r2"], ["f"], axis=1),
             node("Gemm", ["f", "w_head", "b_head"], ["logits"], transB=1),
             node("Softmax", ["logits"], ["probs"], axis=-1),
             node("LogSoftmax", ["logits"], ["logprobs"], axis=-1)]
    return nodes, [("x", rnd(rng, (b, T, D)))], inits, ["probs", "logprobs"]


@mcase("model_multihead_three_outputs",
       desc="shared Gemm+Relu trunk, three outputs: class probs, a scalar head, the embedding")
def _model_multihead(rng, b):
    inits = {"w0": weights(rng, 10, 24, transposed=True), "b0": rnd(rng, (24,)),
             "wc": weights(rng, 24, 3), "bc": rnd(rng, (3,)),
             "wr": weights(rng, 24, 1, transposed=True), "br": rnd(rng, (1,))}
    nodes = [node("Gemm", ["x", "w0", "b0"], ["t"], transB=1), node("Relu", ["t"], ["emb"]),
             node("MatMul", ["emb", "wc"], ["cm"]), node("Add", ["cm", "bc"], ["cl"]),
             node("Softmax", ["cl"], ["class_probs"], axis=1),
             node("Gemm", ["emb", "wr", "br"], ["score_raw"], transB=1),
             node("Sigmoid", ["score_raw"], ["score"])]
    return nodes, [("x", rnd(rng, (b, 10)))], inits, ["class_probs", "score", "emb"]


@mcase("model_two_inputs_gated", desc="two runtime inputs, Gemm each, Sigmoid gate, Mul, Tanh")
def _model_two_inputs(rng, b):
    inits = {"wa": weights(rng, 8, 12, transposed=True), "ba": rnd(rng, (12,)),
             "wg": weights(rng, 4, 12), "bg": rnd(rng, (12,)),
             "wo": weights(rng, 12, 3, transposed=True)}
    nodes = [node("Gemm", ["a", "wa", "ba"], ["ha"], transB=1),
             node("Gemm", ["g", "wg", "bg"], ["hg"]), node("Sigmoid", ["hg"], ["gate"]),
             node("Mul", ["ha", "gate"], ["gated"]), node("Tanh", ["gated"], ["t"]),
             node("Gemm", ["t", "wo"], ["y"], transB=1)]
    return nodes, [("a", rnd(rng, (b, 8))), ("g", rnd(rng, (b, 4)))], inits, ["y"]


@mcase("model_reshape_mixer", desc="Reshape [b,48]->[b,4,12], MatMul, Sigmoid, Reshape back, "
                                   "Dropout, Gemm, Abs/Neg/Exp/Log tail")
def _model_reshape_mixer(rng, b):
    inits = {"s1": np.array([0, 4, 12], dtype=np.int64), "w": weights(rng, 12, 12),
             "s2": np.array([0, -1], dtype=np.int64), "w2": weights(rng, 48, 6, transposed=True),
             "b2": rnd(rng, (6,))}
    nodes = [node("Reshape", ["x", "s1"], ["r"]), node("MatMul", ["r", "w"], ["m"]),
             node("Sigmoid", ["m"], ["s"]), node("Reshape", ["s", "s2"], ["f"]),
             node("Dropout", ["f"], ["fd"]),
             node("Gemm", ["fd", "w2", "b2"], ["z"], transB=1), node("Abs", ["z"], ["za"]),
             node("Neg", ["za"], ["zn"]), node("Exp", ["zn"], ["ze"]), node("Log", ["ze"], ["zl"]),
             node("Sub", ["z", "zl"], ["y"])]
    return nodes, [("x", rnd(rng, (b, 48)))], inits, ["y"]


REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEMO_MODEL = os.path.join(REPO, "models", "digits-mlp.onnx")
DEMO_DATA = os.path.join(REPO, "data", "digits.h5")
if os.path.isfile(DEMO_MODEL) and os.path.isfile(DEMO_DATA):
    @mcase("model_digits_demo", desc="the bundled demo model (tools/train_demo.py) on random rows of "
                                     "data/digits.h5, uint8 pixels converted to float32")
    def _model_digits_demo(rng, b):
        with h5py.File(DEMO_DATA, "r") as f:
            rows = np.sort(rng.choice(f["x"].shape[0], size=b, replace=False))
            x = f["x"][rows].astype(np.float32)
        return onnx.load(DEMO_MODEL), [("pixels", x)]


# ---------------------------------------------------------------- numpy reference

def _erf(a):
    return np.vectorize(math.erf, otypes=[np.float64])(a)


def _softmax(x, axis, opset, log):
    axis = axis % x.ndim
    if opset < 13:  # coerce to 2-D at `axis`, normalise over everything after it
        shape = x.shape
        x2 = x.reshape(int(np.prod(shape[:axis], dtype=np.int64)), -1)
        return _softmax(x2, 1, 13, log).reshape(shape)
    z = x - x.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return z - lse if log else np.exp(z - lse)


def _reshape(x, shape):
    out = [x.shape[k] if d == 0 else int(d) for k, d in enumerate(shape)]
    return x.reshape(out)


def np_eval(nodes, feeds, inits, opset):
    """float64 evaluation of the cases' nodes, written from the ONNX operator spec."""
    env = {}
    for k, v in list(inits.items()) + list(feeds.items()):
        env[k] = v.astype(np.float64) if v.dtype == np.float32 else v
    for n in nodes:
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        x = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Gemm":
            a = x[0].T if at.get("transA", 0) else x[0]
            w = x[1].T if at.get("transB", 0) else x[1]
            y = at.get("alpha", 1.0) * (a @ w)
            if len(x) > 2 and x[2] is not None:
                y = y + at.get("beta", 1.0) * x[2]
        elif op == "MatMul":
            y = np.matmul(x[0], x[1])
        elif op in ("Add", "Sub", "Mul", "Div", "Pow"):
            y = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
                 "Pow": np.power}[op](x[0], x[1])
        elif op == "Relu":
            y = np.maximum(x[0], 0.0)
        elif op == "LeakyRelu":
            y = np.where(x[0] >= 0, x[0], at.get("alpha", 0.01) * x[0])
        elif op == "Sigmoid":
            y = 1.0 / (1.0 + np.exp(-x[0]))
        elif op == "Tanh":
            y = np.tanh(x[0])
        elif op == "Erf":
            y = _erf(x[0])
        elif op == "Gelu":
            v = x[0]
            if at.get("approximate", b"none") in (b"tanh", "tanh"):
                y = 0.5 * v * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v ** 3)))
            else:
                y = 0.5 * v * (1.0 + _erf(v / math.sqrt(2.0)))
        elif op in ("Exp", "Log", "Sqrt", "Neg", "Abs"):
            y = {"Exp": np.exp, "Log": np.log, "Sqrt": np.sqrt, "Neg": np.negative, "Abs": np.abs}[op](x[0])
        elif op in ("Softmax", "LogSoftmax"):
            y = _softmax(x[0], at.get("axis", 1 if opset < 13 else -1), opset, op == "LogSoftmax")
        elif op == "Flatten":
            axis = at.get("axis", 1)
            axis = axis + x[0].ndim if axis < 0 else axis
            y = x[0].reshape(int(np.prod(x[0].shape[:axis], dtype=np.int64)), -1)
        elif op == "Reshape":
            y = _reshape(x[0], x[1])
        elif op in ("Identity", "Dropout"):
            y = x[0]
        elif op == "Cast":
            assert at["to"] in (TensorProto.FLOAT, TensorProto.INT64)
            y = x[0].astype(np.float64) if at["to"] == TensorProto.FLOAT else np.trunc(x[0]).astype(np.int64)
        elif op == "Transpose":
            y = np.transpose(x[0], at.get("perm"))
        elif op == "Constant":
            if "value" in at:
                y = numpy_helper.to_array(at["value"])
            elif "value_float" in at:
                y = np.array(at["value_float"])
            elif "value_floats" in at:
                y = np.array(at["value_floats"])
            else:
                y = np.array(at["value_ints"], dtype=np.int64)
            if y.dtype == np.float32:
                y = y.astype(np.float64)
        elif op == "BatchNormalization":
            v, s, bias, mean, var = x
            shp = (1, -1) + (1,) * (v.ndim - 2)
            y = ((v - mean.reshape(shp)) / np.sqrt(var.reshape(shp) + at.get("epsilon", 1e-5))
                 * s.reshape(shp) + bias.reshape(shp))
        elif op == "LayerNormalization":
            v = x[0]
            axes = tuple(range(at.get("axis", -1) % v.ndim, v.ndim))
            mu = v.mean(axis=axes, keepdims=True)
            var = ((v - mu) ** 2).mean(axis=axes, keepdims=True)
            y = (v - mu) / np.sqrt(var + at.get("epsilon", 1e-5)) * x[1]
            if len(x) > 2 and x[2] is not None:
                y = y + x[2]
        elif op == "Shape":
            y = np.array(x[0].shape, dtype=np.int64)
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=at.get("axis", 0))
        elif op == "Unsqueeze":
            y = np.expand_dims(x[0], tuple(int(a) for a in x[1]))
        elif op == "Concat":
            y = np.concatenate(x, axis=at["axis"])
        elif op.startswith("Reduce"):
            v = x[0]
            axes = [int(a) for a in x[1]] if len(x) > 1 and x[1] is not None else list(at.get("axes", []))
            if not axes and at.get("noop_with_empty_axes", 0):
                y = v
            else:
                ax = tuple(a % v.ndim for a in axes) if axes else None
                kd = bool(at.get("keepdims", 1))
                y = {"ReduceSum": lambda: v.sum(axis=ax, keepdims=kd),
                     "ReduceMean": lambda: v.mean(axis=ax, keepdims=kd),
                     "ReduceMax": lambda: v.max(axis=ax, keepdims=kd),
                     "ReduceMin": lambda: v.min(axis=ax, keepdims=kd),
                     "ReduceProd": lambda: v.prod(axis=ax, keepdims=kd),
                     "ReduceL1": lambda: np.abs(v).sum(axis=ax, keepdims=kd),
                     "ReduceL2": lambda: np.sqrt((v * v).sum(axis=ax, keepdims=kd)),
                     "ReduceLogSumExp": lambda: np.log(np.exp(v).sum(axis=ax, keepdims=kd)),
                     "ReduceSumSquare": lambda: (v * v).sum(axis=ax, keepdims=kd)}[op]()
        elif op in ("ArgMax", "ArgMin"):
            v, axis = x[0], at.get("axis", 0) % x[0].ndim
            if at.get("select_last_index", 0):
                v = np.flip(v, axis)
            y = np.argmax(v, axis) if op == "ArgMax" else np.argmin(v, axis)  # first of ties
            if at.get("select_last_index", 0):
                y = v.shape[axis] - 1 - y
            if at.get("keepdims", 1):
                y = np.expand_dims(y, axis)
        elif op == "CumSum":
            v, axis = x[0], int(np.asarray(x[1]).reshape(-1)[0])
            if at.get("reverse", 0):
                v = np.flip(v, axis)
            y = np.cumsum(v, axis)
            if at.get("exclusive", 0):
                y = y - v
            if at.get("reverse", 0):
                y = np.flip(y, axis)
        elif op == "TopK":
            v, k, axis = x[0], int(x[1][0]), at.get("axis", -1)
            key = -v if at.get("largest", 1) else v
            idx = np.take(np.argsort(key, axis=axis, kind="stable"), np.arange(k), axis=axis)
            y = [np.take_along_axis(v, idx, axis), idx]
        elif op == "Split":
            v, axis = x[0], at.get("axis", 0)
            n_out = len(n.output)
            if len(x) > 1 and x[1] is not None:
                sizes = list(x[1])
            elif "split" in at:
                sizes = list(at["split"])
            elif "num_outputs" in at:
                chunk = -(-v.shape[axis] // n_out)
                sizes = [min(chunk, v.shape[axis] - chunk * j) for j in range(n_out)]
            else:
                sizes = [v.shape[axis] // n_out] * n_out
            y = np.split(v, np.cumsum(sizes)[:-1], axis=axis)
        elif op == "Tile":
            y = np.tile(x[0], x[1])
        elif op == "Trilu":
            k = int(x[1]) if len(x) > 1 and x[1] is not None else 0
            y = np.triu(x[0], k) if at.get("upper", 1) else np.tril(x[0], k)
        elif op == "GatherElements":
            axis = at.get("axis", 0)
            idx = np.where(x[1] < 0, x[1] + x[0].shape[axis], x[1])
            y = np.take_along_axis(x[0], idx, axis)
        elif op == "GatherND":
            v, idx, bd = x[0], x[1], at.get("batch_dims", 0)
            assert bd == 1 and idx.shape[-1] == 1
            y = np.stack([np.take(v[j], idx[j][..., 0], axis=0) for j in range(v.shape[0])])
        elif op == "Einsum":
            y = np.einsum(at["equation"].decode() if isinstance(at["equation"], bytes) else at["equation"], *x)
        else:
            raise NotImplementedError(op)
        for name, val in zip(n.output, y if isinstance(y, list) else [y]):
            env[name] = val
    return env


# ---------------------------------------------------------------- driver

def rel_err(out, ref):
    out, ref = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    if out.shape != ref.shape:
        return math.inf
    if ref.size == 0:
        return 0.0
    return float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-6))


def build_model(name, nodes, ins, inits, outputs, opset, out_shapes=None):
    vin = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch"] + list(a.shape[1:])) for n, a in ins]
    vout = [helper.make_tensor_value_info(n, TensorProto.FLOAT,
                                          None if out_shapes is None else ["batch"] + list(out_shapes[k][1:]))
            for k, n in enumerate(outputs)]
    for k, n in enumerate(nodes):
        if not n.name:
            n.name = f"{n.op_type.lower()}_{k}"
    graph = helper.make_graph(nodes, name, vin, vout,
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="mgi-mpi gen_op_cases.py")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    return model


def run_ort(model_bytes, ins):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # op by op, like the backends
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])
    return sess.run(None, {n: a for n, a in ins})


def generate(name, build, opset, rtol, batch, desc, seed, out_dir):
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    built = build(rng, batch)
    if isinstance(built[0], onnx.ModelProto):  # a model file as it is
        model, ins = built
        nodes, outputs = list(model.graph.node), [o.name for o in model.graph.output]
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    else:
        nodes, ins, inits, outputs = built
        probe = build_model(name, nodes, ins, inits, outputs, opset)
        first = run_ort(probe.SerializeToString(), ins)
        model = build_model(name, nodes, ins, inits, outputs, opset, [o.shape for o in first])
    onnx.checker.check_model(model, full_check=True)
    data = model.SerializeToString()
    outs = run_ort(data, ins)

    env = np_eval(model.graph.node, dict(ins), inits, opset)
    worst = 0.0
    for n, o in zip(outputs, outs):
        if o.ndim == 0 or o.shape[0] != batch:
            raise SystemExit(f"{name}: output {n} {o.shape} does not lead with the batch dim {batch}")
        if not np.isfinite(o).all():
            raise SystemExit(f"{name}: output {n} has non-finite values")
        worst = max(worst, rel_err(o, env[n]))
    if worst > CROSS_RTOL:
        raise SystemExit(f"{name}: onnxruntime and the numpy reference differ: rel {worst:.3g} > {CROSS_RTOL}")

    cdir = os.path.join(out_dir, name)
    os.makedirs(cdir, exist_ok=True)
    with open(os.path.join(cdir, "model.onnx"), "wb") as f:
        f.write(data)
    with h5py.File(os.path.join(cdir, "case.h5"), "w") as f:
        f.attrs["case"] = name
        f.attrs["ops"] = ",".join(sorted({n.op_type for n in nodes}))
        f.attrs["opset"] = np.int64(opset)
        f.attrs["seed"] = np.int64(seed)
        f.attrs["rtol"] = np.float64(rtol)
        f.attrs["description"] = desc or f"{name}"
        for group, items in (("inputs", ins), ("outputs", list(zip(outputs, outs)))):
            g = f.create_group(group)
            for k, (n, a) in enumerate(items):
                d = g.create_dataset(str(k), data=np.ascontiguousarray(a, dtype=np.float32))
                d.attrs["name"] = n
    return worst


def main():
    ap = argparse.ArgumentParser(description="Write ONNX reference cases for the backends.")
    ap.add_argument("--out", help="output directory (every case directory already in it is removed first)")
    ap.add_argument("--seed", type=int, help="random seed (default: from the clock, printed)")
    ap.add_argument("--only", help="regex: only cases whose name matches")
    ap.add_argument("--list", action="store_true", help="list case names and exit")
    args = ap.parse_args()
    selected = [c for c in CASES if not args.only or re.search(args.only, c[0])]
    if args.list:
        for c in selected:
            print(c[0])
        return
    if not args.out:
        ap.error("--out is required")
    if not selected:
        ap.error(f"--only {args.only!r} matches no case")
    seed = args.seed if args.seed is not None else time.time_ns() % (2 ** 31)
    print(f"gen_op_cases: seed {seed} (reproduce with --seed {seed})", flush=True)

    os.makedirs(args.out, exist_ok=True)
    for entry in os.listdir(args.out):  # stale cases from an earlier run must not be tested
        p = os.path.join(args.out, entry)
        if os.path.isfile(os.path.join(p, "case.h5")) or os.path.isfile(os.path.join(p, "model.onnx")):
            shutil.rmtree(p)
    start, worst = time.time(), []
    for c in selected:
        worst.append((generate(*c, seed=seed, out_dir=args.out), c[0]))
    worst.sort(reverse=True)
    print(f"gen_op_cases: {len(selected)} cases in {args.out} ({time.time() - start:.1f} s); "
          f"onnxruntime vs numpy float64 worst rel {worst[0][0]:.2g} ({worst[0][1]})")


if __name__ == "__main__":
    main()
