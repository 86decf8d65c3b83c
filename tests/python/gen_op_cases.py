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

# ---- Variadic Min/Max/Sum/Mean: one input, two of one shape, and three or four broadcast
# across each other (runtime inputs and initializers, an initializer first).
for _op in ("Min", "Max", "Sum", "Mean"):
    _l = _op.lower()
    single(f"{_l}_one", _op, [("x", (3, 4), "normal")])
    single(f"{_l}_two_rt", _op, [("x", (3, 4), "normal"), ("z", (3, 4), "normal")])
    single(f"{_l}_three_bcast", _op, [("x", (3, 4), "normal"), ("z", (1, 4), "normal")], [("c", (3, 1), "normal")])
    single(f"{_l}_four_init_first", _op, [("x", (3, 1), "normal"), ("z", (1, 4), "normal")],
           [("c", (4,), "normal"), ("d", (), "normal")], order=["c", "x", "d", "z"])


# ---- Clip: attributes (opset 6), optional min/max inputs (opset 11+), a bound left out.
def clip_case(name, lo, hi, opset, attrs=False):
    @case(name, opset=opset, desc=f"Clip min={lo} max={hi} opset {opset}{' (attributes)' if attrs else ''}")
    def build(rng, b):
        ins = [("x", rnd(rng, (b, 3, 4)) * np.float32(2.0))]
        if attrs:
            kw = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
            return [node("Clip", ["x"], ["y"], **kw)], ins, {}, ["y"]
        inits, names = {}, ["x"]
        for n, v in (("lo", lo), ("hi", hi)):
            if v is not None:
                inits[n] = np.array(v, dtype=np.float32)
            names.append(n if v is not None else "")
        while names[-1] == "":
            names.pop()
        return [node("Clip", names, ["y"])], ins, inits, ["y"]


clip_case("clip_op6_attrs", -0.5, 0.7, 6, attrs=True)
clip_case("clip_op6_max_only", None, 1.0, 6, attrs=True)
clip_case("clip_op11_min_max", -1.0, 1.5, 11)
clip_case("clip_op13_min_only", 0.0, None, 13)
clip_case("clip_op13_max_only", None, 0.25, 13)
clip_case("clip_op13_min_gt_max", 1.0, -1.0, 13)

# ---- Mod: fmod=1 on floats (negative operands both sides), fmod=0 and 1 on int64 through Casts.
single("mod_fmod_bcast", "Mod", [("x", (3, 4), "wide"), ("z", (1, 4), "away")], attrs={"fmod": 1})
single("mod_fmod_init", "Mod", [("x", (3, 4), "wide")], [("c", (4,), "away")], attrs={"fmod": 1})


def int_mod_case(name, fmod):
    @case(name, desc=f"Mod fmod={fmod} on int64: Cast(integers in [-40, 40]) mod [-7, -3, 3, 7], Cast back")
    def build(rng, b):
        x = np.round(rnd(rng, (b, 3, 4), "wide") * 10).astype(np.float32)  # integer-valued: the Cast is exact
        return ([node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
                 node("Mod", ["xi", "m"], ["r"], fmod=fmod), node("Cast", ["r"], ["y"], to=TensorProto.FLOAT)],
                [("x", x)], {"m": np.array([-7, -3, 3, 7], dtype=np.int64)}, ["y"])


int_mod_case("mod_int64_fmod0", 0)
int_mod_case("mod_int64_fmod1", 1)


# ---- Pow with integer exponents: float base ** int32/int64 (negative exponents too), int64 ** int64.
def pow_int_case(name, etype, opset=15):
    @case(name, opset=opset, desc=f"Pow float32 ** {np.dtype(etype).name} exponents in [-3, 4]")
    def build(rng, b):
        return ([node("Pow", ["x", "e"], ["y"])], [("x", rnd(rng, (b, 3, 4), "away"))],
                {"e": rng.integers(-3, 5, (4,)).astype(etype)}, ["y"])


pow_int_case("pow_exp_int64", np.int64)
pow_int_case("pow_exp_int32", np.int32, opset=13)


@case("pow_int64_base", opset=15, desc="Pow int64 ** int64 (exponents 0..4) through Casts")
def _pow_int64_base(rng, b):
    x = np.round(rnd(rng, (b, 3, 5), "wide") * 3).astype(np.float32)  # integers in [-12, 12]
    return ([node("Cast", ["x"], ["xi"], to=TensorProto.INT64),
             node("Pow", ["xi", "e"], ["p"]), node("Cast", ["p"], ["y"], to=TensorProto.FLOAT)],
            [("x", x)], {"e": np.arange(5, dtype=np.int64)}, ["y"])


# ---- Comparisons (bool outputs, Cast to float): values on a half grid so ties happen.
for _op in ("Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
    @case(f"{_op.lower()}_bcast", opset=13, desc=f"{_op} [b,3,4] with [b,1,4] and with [4], ties included")
    def _cmp(rng, b, _op=_op):
        def grid(shape):
            return (np.round(rnd(rng, shape) * 2) / 2).astype(np.float32)
        return ([node(_op, ["x", "z"], ["c1"]), node(_op, ["x", "w"], ["c2"]),
                 node("Cast", ["c1"], ["y1"], to=TensorProto.FLOAT), node("Cast", ["c2"], ["y2"], to=TensorProto.FLOAT)],
                [("x", grid((b, 3, 4))), ("z", grid((b, 1, 4)))], {"w": grid((4,))}, ["y1", "y2"])


@case("bool_ops", opset=13, desc="And/Or/Xor/Not of comparisons, broadcast, Cast to float")
def _bool_ops(rng, b):
    return ([node("Less", ["x", "z"], ["p"]), node("Greater", ["x", "zero"], ["q"]),
             node("And", ["p", "q"], ["a"]), node("Or", ["p", "q"], ["o"]), node("Xor", ["p", "q"], ["e"]),
             node("Not", ["p"], ["n"])] +
            [node("Cast", [i], [f"y_{i}"], to=TensorProto.FLOAT) for i in ("a", "o", "e", "n")],
            [("x", rnd(rng, (b, 3, 4))), ("z", rnd(rng, (b, 1, 4)))],
            {"zero": np.zeros((3, 1), dtype=np.float32)}, ["y_a", "y_o", "y_e", "y_n"])


@case("isnan_isinf", opset=13, desc="IsNaN and IsInf (both flags, positive only) of x + [inf, -inf, nan, 1]")
def _isnan_isinf(rng, b):
    return ([node("Add", ["x", "c"], ["v"]), node("IsNaN", ["v"], ["n"]), node("IsInf", ["v"], ["i"]),
             node("IsInf", ["v"], ["ip"], detect_negative=0)] +
            [node("Cast", [i], [f"y_{i}"], to=TensorProto.FLOAT) for i in ("n", "i", "ip")],
            [("x", rnd(rng, (b, 3, 4)))],
            {"c": np.array([np.inf, -np.inf, np.nan, 1.0], dtype=np.float32)}, ["y_n", "y_i", "y_ip"])


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


# ---- Activations with attributes, rounding, trigonometry (opsets where their semantics are current).
ACTIVATIONS = [("elu", "Elu", "wide", {}, 9), ("elu_alpha", "Elu", "wide", {"alpha": 0.4}, 21),
               ("selu", "Selu", "wide", {}, 9), ("selu_attrs", "Selu", "wide", {"alpha": 2.0, "gamma": 0.8}, 17),
               ("celu", "Celu", "wide", {}, 12), ("celu_alpha", "Celu", "wide", {"alpha": 2.5}, 17),
               ("hardsigmoid", "HardSigmoid", "wide", {}, 9),
               ("hardsigmoid_attrs", "HardSigmoid", "wide", {"alpha": 0.3, "beta": 0.4}, 17),
               ("hardswish", "HardSwish", "wide", {}, 14), ("softplus", "Softplus", "wide", {}, 9),
               ("softsign", "Softsign", "wide", {}, 9), ("mish", "Mish", "wide", {}, 18),
               ("reciprocal", "Reciprocal", "away", {}, 13), ("floor", "Floor", "wide", {}, 13),
               ("ceil", "Ceil", "wide", {}, 13), ("sign", "Sign", "normal", {}, 13), ("sin", "Sin", "wide", {}, 9),
               ("cos", "Cos", "wide", {}, 9)]
for _name, _op, _kind, _attrs, _opset in ACTIVATIONS:
    single(_name, _op, [("x", (3, 7), _kind)], attrs=_attrs, opset=_opset)


@case("round_halves", opset=11, desc="Round: random values and exact halves (to even)")
def _round_halves(rng, b):
    x = rnd(rng, (b, 10), "wide")
    x[:, :6] = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], dtype=np.float32)
    return [node("Round", ["x"], ["y"])], [("x", x)], {}, ["y"]


single("prelu_channel", "PRelu", [("x", (3, 4, 5), "normal")], [("slope", (3, 1, 1), "normal")], opset=9)
single("prelu_last", "PRelu", [("x", (3, 4, 5), "normal")], [("slope", (5,), "normal")], opset=16)
single("prelu_scalar", "PRelu", [("x", (6,), "normal")], [("slope", (1,), "normal")], opset=21)
single("prelu_runtime", "PRelu", [("x", (3, 4), "normal"), ("slope", (3, 4), "normal")], opset=9)


def affine_norm_case(name, op, row, params, attrs, opset):
    """InstanceNormalization / GroupNormalization: X [b, *row] * 3 + 1, scale and bias of `params` values."""
    @case(name, opset=opset, desc=f"{op} on [b,{row}] {attrs} opset {opset}")
    def build(rng, b):
        return ([node(op, ["x", "scale", "bias"], ["y"], **attrs)], [("x", rnd(rng, (b,) + row) * 3.0 + 1.0)],
                {"scale": rnd(rng, (params,)), "bias": rnd(rng, (params,))}, ["y"])


affine_norm_case("instancenorm_4d", "InstanceNormalization", (3, 4, 5), 3, {}, 9)
affine_norm_case("instancenorm_3d_eps", "InstanceNormalization", (4, 7), 4, {"epsilon": 1e-3}, 17)
# GroupNormalization-18 (scale/bias per group) is deprecated: onnx's checker refuses models that use it,
# so its cases live in the unit tests only.
affine_norm_case("groupnorm_op21_per_channel", "GroupNormalization", (6, 3, 4), 6, {"num_groups": 2}, 21)
affine_norm_case("groupnorm_op21_groups_eq_channels", "GroupNormalization", (4, 3, 4), 4, {"num_groups": 4}, 21)
single("lrn_default", "LRN", [("x", (5, 3, 4), "normal")], attrs={"size": 3}, opset=13)
# onnxruntime refuses an even size (the spec allows it: the unit tests cover it).
single("lrn_attrs", "LRN", [("x", (6, 2, 3), "normal")],
       attrs={"size": 5, "alpha": 0.5, "beta": 0.6, "bias": 2.0}, opset=9)
single("lrn_wide", "LRN", [("x", (9, 2, 2), "normal")], attrs={"size": 7, "alpha": 0.1, "beta": 1.0}, opset=13)
single("lpnorm_default", "LpNormalization", [("x", (3, 7), "normal")], opset=9)
single("lpnorm_p1_axis1", "LpNormalization", [("x", (3, 7), "normal")], attrs={"p": 1, "axis": 1}, opset=17)
single("lpnorm_p2_axis_m2", "LpNormalization", [("x", (4, 3, 2), "normal")], attrs={"p": 2, "axis": -2}, opset=17)


@case("batchnorm_op9_momentum", opset=9, desc="BatchNormalization opset 9 with momentum (ignored at inference)")
def _batchnorm_op9(rng, b):
    return ([node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-3, momentum=0.7)],
            [("x", rnd(rng, (b, 4, 5)))],
            {"scale": rnd(rng, (4,)), "bias": rnd(rng, (4,)), "mean": rnd(rng, (4,)), "var": rnd(rng, (4,), "var")},
            ["y"])


@case("batchnorm_op15_training_mode0", opset=15, desc="BatchNormalization opset 15, training_mode=0")
def _batchnorm_op15(rng, b):
    return ([node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], training_mode=0)],
            [("x", rnd(rng, (b, 3, 2, 2)))],
            {"scale": rnd(rng, (3,)), "bias": rnd(rng, (3,)), "mean": rnd(rng, (3,)), "var": rnd(rng, (3,), "var")},
            ["y"])


@case("model_conv_free_act_chain", opset=18, desc="MatMul + bias into Selu -> HardSwish -> Mish (a fused epilogue)")
def _act_chain(rng, b):
    nodes = [node("MatMul", ["x", "w"], ["h"]), node("Add", ["h", "bias"], ["hb"]),
             node("Selu", ["hb"], ["s"], alpha=1.5, gamma=0.9), node("HardSwish", ["s"], ["hs"]),
             node("Mish", ["hs"], ["y"])]
    return nodes, [("x", rnd(rng, (b, 12)))], {"w": rnd(rng, (12, 9)), "bias": rnd(rng, (9,))}, ["y"]


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


# ---- Convolution, pooling, resizing, padding (src/ops/conv.cpp, pool.cpp, resize.cpp, pad_space.cpp).
# np_eval evaluates these ops with the ONNX project's reference implementation (onnx.reference, float64),
# independent of onnxruntime.
def nn(name, op, x_row, inits=None, attrs=None, opset=17, order=None, kind="normal", desc=""):
    """One node on x [batch, *x_row]; inits: {name: array or (shape, kind)}; order: node inputs ('' = absent)."""
    @case(name, opset=opset, desc=desc or f"{op} {attrs or {}} opset {opset}")
    def build(rng, b):
        ins = [("x", rnd(rng, (b,) + tuple(x_row), kind))]
        its = {}
        for k, v in (inits or {}).items():
            its[k] = rnd(rng, v[0], v[1]) if isinstance(v, tuple) else np.asarray(v)
        names = order or ["x"] + list(its)
        return [node(op, names, ["y"], **(attrs or {}))], ins, its, ["y"]


def _w(*shape):
    return (tuple(shape), "normal")


nn("conv_2d_pads_strides_dil", "Conv", (3, 9, 10), {"w": _w(5, 3, 3, 3), "b": _w(5)},
   {"pads": [1, 0, 2, 1], "strides": [2, 1], "dilations": [1, 2]})
nn("conv_2d_big", "Conv", (16, 20, 20), {"w": _w(32, 16, 3, 3), "b": _w(32)}, {"pads": [1, 1, 1, 1]})
nn("conv_pointwise", "Conv", (16, 6, 6), {"w": _w(24, 16, 1, 1)})
nn("conv_group2", "Conv", (6, 8, 8), {"w": _w(6, 3, 3, 3), "b": _w(6)}, {"group": 2, "pads": [1, 1, 1, 1]})
nn("conv_depthwise", "Conv", (8, 7, 7), {"w": _w(8, 1, 3, 3), "b": _w(8)},
   {"group": 8, "pads": [1, 1, 1, 1], "strides": [2, 2]})
nn("conv_depthwise_mult2", "Conv", (4, 7, 6), {"w": _w(8, 1, 3, 3)}, {"group": 4, "dilations": [2, 1]})
for _ap in ("SAME_UPPER", "SAME_LOWER", "VALID"):
    nn(f"conv_auto_{_ap.lower()}", "Conv", (3, 9, 8), {"w": _w(4, 3, 4, 3)}, {"auto_pad": _ap, "strides": [2, 3]})
nn("conv_1d", "Conv", (4, 20), {"w": _w(6, 4, 5), "b": _w(6)}, {"pads": [2, 1], "strides": [2]})
nn("conv_3d", "Conv", (4, 5, 6, 5), {"w": _w(4, 2, 3, 3, 3)}, {"pads": [1, 1, 1, 1, 0, 1], "group": 2})
nn("conv_opset9", "Conv", (3, 6, 6), {"w": _w(4, 3, 3, 3), "b": _w(4)}, {"pads": [1, 1, 1, 1]}, opset=9)

nn("convtranspose_s2_outpad", "ConvTranspose", (3, 5, 5), {"w": _w(3, 4, 3, 3), "b": _w(4)},
   {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]})
nn("convtranspose_unet_2x", "ConvTranspose", (8, 4, 5), {"w": _w(8, 4, 2, 2), "b": _w(4)}, {"strides": [2, 2]})
nn("convtranspose_output_shape", "ConvTranspose", (3, 5, 6), {"w": _w(3, 2, 3, 3)},
   {"strides": [2, 2], "output_shape": [10, 11]})
nn("convtranspose_output_shape_same_upper", "ConvTranspose", (3, 5, 6), {"w": _w(3, 2, 3, 3)},
   {"strides": [2, 2], "output_shape": [10, 11], "auto_pad": "SAME_UPPER"})
nn("convtranspose_same_lower", "ConvTranspose", (3, 5, 6), {"w": _w(3, 2, 4, 3)},
   {"strides": [2, 3], "auto_pad": "SAME_LOWER"})
nn("convtranspose_group_dil", "ConvTranspose", (6, 5, 5), {"w": _w(6, 2, 3, 3), "b": _w(6)},
   {"group": 3, "dilations": [2, 1], "pads": [1, 0, 0, 1]})
nn("convtranspose_1d", "ConvTranspose", (4, 9), {"w": _w(4, 5, 4)}, {"strides": [3], "pads": [1, 2]})

nn("maxpool_ceil", "MaxPool", (3, 9, 10), attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                                 "ceil_mode": 1})
nn("maxpool_resnet_stem", "MaxPool", (4, 16, 16), attrs={"kernel_shape": [3, 3], "strides": [2, 2],
                                                         "pads": [1, 1, 1, 1]})
nn("maxpool_same_upper", "MaxPool", (2, 9, 8), attrs={"kernel_shape": [3, 2], "strides": [2, 2],
                                                      "auto_pad": "SAME_UPPER"})
nn("maxpool_1d", "MaxPool", (3, 17), attrs={"kernel_shape": [4], "strides": [3], "pads": [1, 2]})
nn("maxpool_opset8", "MaxPool", (2, 7, 7), attrs={"kernel_shape": [2, 2], "strides": [2, 2]}, opset=8)
for _inc in (0, 1):
    for _ceil in (0, 1):
        nn(f"avgpool_pad{_inc}_ceil{_ceil}", "AveragePool", (3, 9, 10),
           attrs={"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 0, 1, 1], "count_include_pad": _inc,
                  "ceil_mode": _ceil})
nn("avgpool_same_lower", "AveragePool", (2, 9, 8), attrs={"kernel_shape": [3, 2], "strides": [2, 3],
                                                          "auto_pad": "SAME_LOWER"})
nn("avgpool_dilations", "AveragePool", (2, 9, 8), attrs={"kernel_shape": [2, 2], "dilations": [2, 2],
                                                         "pads": [1, 1, 1, 1]}, opset=19)
nn("lppool_p3", "LpPool", (2, 8, 7), attrs={"kernel_shape": [3, 2], "strides": [2, 1], "p": 3, "pads": [1, 0, 0, 1]})
nn("globalavgpool", "GlobalAveragePool", (5, 7, 6))
nn("globalmaxpool", "GlobalMaxPool", (5, 7, 6))
nn("globalavgpool_1d", "GlobalAveragePool", (3, 11))

_F = np.float32
_I = np.int64


def resize_sizes_case(name, mode, coord):
    """Resize [N, 3, 6, 8] to sizes [N, 3, 4, 11], N taken from Shape(x) as exporters do (a host value)."""
    @case(name, opset=13, desc=f"Resize {mode} {coord} by sizes computed from the input's shape")
    def build(rng, b):
        nodes = [node("Shape", ["x"], ["s"]), node("Gather", ["s", "nc_idx"], ["nc"], axis=0),
                 node("Concat", ["nc", "hw"], ["sizes"], axis=0),
                 node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode, coordinate_transformation_mode=coord)]
        return nodes, [("x", rnd(rng, (b, 3, 6, 8)))], {"nc_idx": np.array([0, 1], _I),
                                                        "hw": np.array([4, 11], _I)}, ["y"]
for _mode in ("nearest", "linear", "cubic"):
    for _coord in ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"):
        nn(f"resize_{_mode}_{_coord}_up", "Resize", (3, 4, 6),
           {"roi": np.array([], _F), "scales": np.array([1, 1, 2, 1.5], _F)},
           {"mode": _mode, "coordinate_transformation_mode": _coord}, opset=13)
        resize_sizes_case(f"resize_{_mode}_{_coord}_sizes", _mode, _coord)
    nn(f"resize_{_mode}_half_pixel_symmetric", "Resize", (3, 4, 6), {"scales": np.array([1, 1, 1.5, 0.5], _F)},
       {"mode": _mode, "coordinate_transformation_mode": "half_pixel_symmetric"}, opset=19,
       order=["x", "", "scales"])
    nn(f"resize_{_mode}_tf_crop", "Resize", (2, 5, 6),
       {"roi": np.array([0, 0, 0.1, -0.2, 1, 1, 0.8, 1.1], _F), "scales": np.array([1, 1, 1.6, 1.5], _F)},
       {"mode": _mode, "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 0.5},
       opset=13)
for _nm in ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil"):
    nn(f"resize_nearest_{_nm}", "Resize", (2, 4, 5), {"scales": np.array([1, 1, 2, 0.6], _F)},
       {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": _nm}, opset=13,
       order=["x", "", "scales"])
nn("resize_cubic_exclude_outside", "Resize", (2, 5, 4), {"scales": np.array([1, 1, 1.6, 2], _F)},
   {"mode": "cubic", "exclude_outside": 1, "cubic_coeff_a": -0.5}, opset=13, order=["x", "", "scales"])
nn("resize_opset10_nearest", "Resize", (2, 3, 4), {"scales": np.array([1, 1, 2, 3], _F)}, {"mode": "nearest"},
   opset=10)
nn("resize_opset10_linear", "Resize", (2, 3, 4), {"scales": np.array([1, 1, 2, 1.5], _F)}, {"mode": "linear"},
   opset=10)
nn("resize_opset11_linear", "Resize", (2, 3, 4), {"roi": np.array([], _F), "scales": np.array([1, 1, 2, 2], _F)},
   {"mode": "linear"}, opset=11)
nn("resize_opset18_axes", "Resize", (2, 4, 6), {"sizes": np.array([7, 9], _I)},
   {"mode": "linear", "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"}, opset=18,
   order=["x", "", "", "sizes"])
nn("upsample_nearest", "Upsample", (2, 3, 4), {"scales": np.array([1, 1, 2, 2], _F)}, {"mode": "nearest"}, opset=9)
nn("upsample_linear", "Upsample", (2, 3, 4), {"scales": np.array([1, 1, 2, 2], _F)}, {"mode": "linear"}, opset=9)

for _mode in ("constant", "reflect", "edge"):
    nn(f"pad_{_mode}", "Pad", (3, 5, 6), {"pads": np.array([0, 0, 2, 1, 0, 1, 1, 3], _I),
                                          "value": np.array(0.75, _F)}, {"mode": _mode}, opset=13)
    nn(f"pad_{_mode}_opset7", "Pad", (3, 5, 6), attrs={"mode": _mode, "pads": [0, 0, 1, 2, 0, 0, 2, 1],
                                                       "value": 0.5}, opset=7)
nn("pad_negative", "Pad", (3, 5, 6), {"pads": np.array([0, 1, -1, 2, 0, -1, 1, -2], _I)}, opset=13)
nn("pad_axes_opset18", "Pad", (3, 5, 6), {"pads": np.array([1, 2, 2, 0], _I), "v": np.array(-1.0, _F),
                                          "axes": np.array([-1, 2], _I)}, {"mode": "reflect"}, opset=18)
nn("pad_wrap_opset19", "Pad", (3, 5, 6), {"pads": np.array([0, 0, 2, 3, 0, 0, 1, 2], _I)}, {"mode": "wrap"},
   opset=19)
nn("depth_to_space_dcr", "DepthToSpace", (8, 3, 4), attrs={"blocksize": 2}, opset=13)
nn("depth_to_space_crd", "DepthToSpace", (8, 3, 4), attrs={"blocksize": 2, "mode": "CRD"}, opset=13)
nn("space_to_depth", "SpaceToDepth", (3, 4, 6), attrs={"blocksize": 2}, opset=13)

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


@mcase("model_small_cnn", desc="ResNet-like stem and block: Conv+BN+Relu, MaxPool, 3x3 and 1x1 convs with a "
                                "residual Add, strided conv, GlobalAveragePool, Flatten, Gemm")
def _model_small_cnn(rng, b):
    def cw(m, c, k):
        return (rnd(rng, (m, c, k, k)) / np.float32(math.sqrt(c * k * k))).astype(np.float32)
    inits = {"w0": cw(8, 3, 3), "bn_s": rnd(rng, (8,)), "bn_b": rnd(rng, (8,)), "bn_m": rnd(rng, (8,)),
             "bn_v": rnd(rng, (8,), "var"), "w1": cw(8, 8, 3), "b1": rnd(rng, (8,)), "w2": cw(8, 8, 1),
             "w3": cw(16, 8, 3), "b3": rnd(rng, (16,)), "fc": weights(rng, 16, 5), "fcb": rnd(rng, (5,))}
    nodes = [node("Conv", ["x", "w0"], ["c0"], pads=[1, 1, 1, 1]),
             node("BatchNormalization", ["c0", "bn_s", "bn_b", "bn_m", "bn_v"], ["n0"]),
             node("Relu", ["n0"], ["r0"]),
             node("MaxPool", ["r0"], ["p0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
             node("Conv", ["p0", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             node("Relu", ["c1"], ["r1"]),
             node("Conv", ["r1", "w2"], ["c2"]),
             node("Add", ["c2", "p0"], ["s2"]),
             node("Relu", ["s2"], ["r2"]),
             node("Conv", ["r2", "w3", "b3"], ["c3"], pads=[1, 1, 1, 1], strides=[2, 2]),
             node("Relu", ["c3"], ["r3"]),
             node("GlobalAveragePool", ["r3"], ["g"]),
             node("Flatten", ["g"], ["f"]),
             node("Gemm", ["f", "fc", "fcb"], ["y"])]
    return nodes, [("x", rnd(rng, (b, 3, 20, 18)))], inits, ["y"]


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


NN_REFERENCE_OPS = {"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
                    "GlobalMaxPool", "Resize", "Upsample", "Pad", "DepthToSpace", "SpaceToDepth"}


def _conv_transpose(x, w, b, at):
    """ConvTranspose from the spec: every input pixel scatters x * w to s * i - pad_begin + k * d."""
    nd = x.ndim - 2
    k = w.shape[2:]
    s = at.get("strides", [1] * nd)
    d = at.get("dilations", [1] * nd)
    g = at.get("group", 1)
    op = at.get("output_padding", [0] * nd)
    pads = at.get("pads", [0] * (2 * nd))
    ap = at.get("auto_pad", b"NOTSET")
    ap = ap.decode() if isinstance(ap, bytes) else ap
    want = at.get("output_shape")
    full = [s[i] * (x.shape[2 + i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 for i in range(nd)]
    pb, out = [], []
    for i in range(nd):
        if want or ap in ("SAME_UPPER", "SAME_LOWER"):
            o = list(want)[-nd:][i] if want else x.shape[2 + i] * s[i]
            total = full[i] - o
            pb.append(total // 2 if ap == "SAME_UPPER" else total - total // 2)
            out.append(o)
        else:
            pb.append(pads[i])
            out.append(full[i] - pads[i] - pads[nd + i])
    n, c = x.shape[:2]
    cg, mg = c // g, w.shape[1]
    yfull = np.zeros((n, mg * g) + tuple(full))
    for kidx in np.ndindex(*k):
        for gi in range(g):
            contrib = np.einsum("nc...,cm->nm...", x[:, gi * cg:(gi + 1) * cg], w[gi * cg:(gi + 1) * cg, :][(slice(None), slice(None)) + kidx])
            sl = tuple(slice(kidx[i] * d[i], kidx[i] * d[i] + s[i] * (x.shape[2 + i] - 1) + 1, s[i]) for i in range(nd))
            yfull[(slice(None), slice(gi * mg, (gi + 1) * mg)) + sl] += contrib
    y = yfull[(slice(None), slice(None)) + tuple(slice(pb[i], pb[i] + out[i]) for i in range(nd))]
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


def _pad(x, pads, value, mode, axes=None):
    """Pad from the spec: negative pads crop, then numpy's pad (its reflect/edge/wrap are ONNX's)."""
    r = x.ndim
    axes = [a % r for a in (range(r) if axes is None else axes)]
    full = [[0, 0] for _ in range(r)]
    for j, a in enumerate(axes):
        full[a] = [int(pads[j]), int(pads[len(axes) + j])]
    x = x[tuple(slice(max(0, -b), x.shape[i] - max(0, -e)) for i, (b, e) in enumerate(full))]
    pos = [(max(0, b), max(0, e)) for b, e in full]
    if mode == "constant":
        return np.pad(x, pos, mode="constant", constant_values=value)
    return np.pad(x, pos, mode=mode)


def _onnx_reference(n, x, opset):
    """One node evaluated by the ONNX project's reference implementation on float64 inputs."""
    from onnx.reference import ReferenceEvaluator
    names = [f"i{k}" if name else "" for k, name in enumerate(n.input)]
    if n.op_type == "Upsample" or (n.op_type == "Resize" and opset < 11):
        # Upsample and Resize-10 (X, scales) are Resize-13 with asymmetric coordinates and floor rounding.
        mode = helper.get_attribute_value(next(a for a in n.attribute if a.name == "mode")) if n.attribute else b"nearest"
        nd = helper.make_node("Resize", ["i0", "", "i1"], ["o"], mode=mode,
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        opset = 13
    else:
        nd = helper.make_node(n.op_type, names, ["o"])
        nd.attribute.extend(n.attribute)
    vin = [helper.make_tensor_value_info(nm, TensorProto.DOUBLE if v.dtype == np.float64 else TensorProto.INT64, None)
           for nm, v in zip(names, x) if nm]
    g = helper.make_graph([nd], "one", vin, [helper.make_tensor_value_info("o", TensorProto.DOUBLE, None)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    feeds = {nm: v for nm, v in zip(names, x) if nm}
    return ReferenceEvaluator(m).run(None, feeds)[0]

def _round_half_even(v):
    f = np.floor(v)
    d = v - f
    return np.where(d > 0.5, f + 1, np.where(d < 0.5, f, np.where(np.fmod(f, 2) == 0, f, f + 1)))


def _softplus(v):
    return np.log1p(np.exp(-np.abs(v))) + np.maximum(v, 0.0)


def _hard_sigmoid(v, a, b):
    return np.clip(a * v + b, 0.0, 1.0)


# The elementwise activations from their ONNX spec formulas (float64).
ACT_NP = {
    "Elu": lambda v, at: np.where(v < 0, at.get("alpha", 1.0) * (np.exp(v) - 1), v),
    "Selu": lambda v, at: at.get("gamma", 1.0507009873554805) * np.where(
        v > 0, v, at.get("alpha", 1.6732632423543772) * np.exp(v) - at.get("alpha", 1.6732632423543772)),
    "Celu": lambda v, at: np.maximum(v, 0.0) + np.minimum(
        0.0, at.get("alpha", 1.0) * (np.exp(v / at.get("alpha", 1.0)) - 1)),
    "HardSigmoid": lambda v, at: _hard_sigmoid(v, at.get("alpha", 0.2), at.get("beta", 0.5)),
    "HardSwish": lambda v, at: v * _hard_sigmoid(v, 1.0 / 6.0, 0.5),
    "Softplus": lambda v, at: _softplus(v),
    "Softsign": lambda v, at: v / (1 + np.abs(v)),
    "Mish": lambda v, at: v * np.tanh(_softplus(v)),
    "Reciprocal": lambda v, at: 1.0 / v,
    "Floor": lambda v, at: np.floor(v),
    "Ceil": lambda v, at: np.ceil(v),
    "Round": lambda v, at: _round_half_even(v),
    "Sign": lambda v, at: np.sign(v),
    "Sin": lambda v, at: np.sin(v),
    "Cos": lambda v, at: np.cos(v),
}


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
        elif op in ("Min", "Max", "Sum", "Mean"):
            f = {"Min": np.minimum, "Max": np.maximum, "Sum": np.add, "Mean": np.add}[op]
            y = x[0]
            for v in x[1:]:
                y = f(y, v)
            y = y / len(x) if op == "Mean" else np.broadcast_to(y, y.shape)
        elif op == "Clip":
            if opset < 11:
                lo, hi = at.get("min", -np.finfo(np.float32).max), at.get("max", np.finfo(np.float32).max)
            else:
                lo = x[1] if len(x) > 1 and x[1] is not None else -np.finfo(np.float32).max
                hi = x[2] if len(x) > 2 and x[2] is not None else np.finfo(np.float32).max
            y = np.minimum(np.maximum(x[0], lo), hi)
        elif op == "Mod":
            y = (np.fmod if at.get("fmod", 0) else np.mod)(x[0], x[1])
        elif op in ("Less", "LessOrEqual", "Greater", "GreaterOrEqual"):
            y = {"Less": np.less, "LessOrEqual": np.less_equal, "Greater": np.greater,
                 "GreaterOrEqual": np.greater_equal}[op](x[0], x[1])
        elif op in ("And", "Or", "Xor"):
            y = {"And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}[op](x[0], x[1])
        elif op == "Not":
            y = np.logical_not(x[0])
        elif op == "IsNaN":
            y = np.isnan(x[0])
        elif op == "IsInf":
            y = ((np.isposinf(x[0]) & bool(at.get("detect_positive", 1))) |
                 (np.isneginf(x[0]) & bool(at.get("detect_negative", 1))))
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
        elif op in ACT_NP:
            y = ACT_NP[op](x[0], at)
        elif op == "PRelu":
            y = np.where(x[0] < 0, x[1] * x[0], x[0])
        elif op in ("InstanceNormalization", "GroupNormalization"):
            v, s, bias = x
            groups = v.shape[1] if op == "InstanceNormalization" else at["num_groups"]
            g = v.reshape(v.shape[0], groups, -1)
            mu = g.mean(axis=2, keepdims=True)
            var = ((g - mu) ** 2).mean(axis=2, keepdims=True)
            z = ((g - mu) / np.sqrt(var + at.get("epsilon", 1e-5))).reshape(v.shape)
            if op == "GroupNormalization" and opset < 21:  # opset 18: one scale/bias per group
                s, bias = np.repeat(s, v.shape[1] // groups), np.repeat(bias, v.shape[1] // groups)
            shp = (1, -1) + (1,) * (v.ndim - 2)
            y = z * s.reshape(shp) + bias.reshape(shp)
        elif op == "LRN":
            v, size = x[0], at["size"]
            sq = np.zeros_like(v)
            for c in range(v.shape[1]):
                lo, hi = max(0, c - (size - 1) // 2), min(v.shape[1] - 1, c + size // 2)
                sq[:, c] = (v[:, lo:hi + 1] ** 2).sum(axis=1)
            y = v / (at.get("bias", 1.0) + at.get("alpha", 1e-4) / size * sq) ** at.get("beta", 0.75)
        elif op == "LpNormalization":
            p, axis = at.get("p", 2), at.get("axis", -1)
            norm = (np.abs(x[0]) ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)
            y = np.where(norm == 0, 0.0, x[0] / np.where(norm == 0, 1.0, norm))
        elif op == "Shape":
            y = np.array(x[0].shape, dtype=np.int64)
        elif op == "Gather":
            y = np.take(x[0], x[1], axis=at.get("axis", 0))
        elif op == "Unsqueeze":
            y = np.expand_dims(x[0], tuple(int(a) for a in x[1]))
        elif op == "Concat":
            y = np.concatenate(x, axis=at["axis"])
        elif op == "ConvTranspose":  # onnx.reference mishandles output_shape
            y = _conv_transpose(x[0], x[1], x[2] if len(x) > 2 else None, at)
        elif op == "Pad":  # onnx.reference refuses negative pads
            mode = at.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            if opset < 11:
                y = _pad(x[0], at["pads"], at.get("value", 0.0), mode)
            else:
                value = x[2].item() if len(x) > 2 and x[2] is not None else 0.0
                y = _pad(x[0], x[1], value, mode, x[3].tolist() if len(x) > 3 and x[3] is not None else None)
        elif op in NN_REFERENCE_OPS:
            y = _onnx_reference(n, x, opset)

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
