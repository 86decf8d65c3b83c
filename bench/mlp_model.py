"""The I/O-bound model of the writer and read-ahead benchmarks: Gemm -> Relu ->
Gemm with random weights (zero biases), input [batch, d_in] float32."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def mlp(path, d_in, hidden, d_out, seed=1):
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((hidden, d_in)).astype(np.float32) / np.sqrt(d_in)
    w2 = rng.standard_normal((d_out, hidden)).astype(np.float32) / np.sqrt(hidden)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1)]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(np.zeros(hidden, np.float32), "b1"),
             numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(np.zeros(d_out, np.float32), "b2")]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", d_out])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
