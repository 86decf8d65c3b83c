"""Builders for the bad-input catalogue (tests/errors/cases.py): the base
inputs every case starts from, and small helpers that break them.

Every case runs in its own directory, with the tool's working directory set to
it, holding:
    config.yaml   the base config below (relative paths, so messages are short)
    in.h5         /x [200, 8] float32 and /cost [200] float32
    model.onnx    an MLP [batch, 8] -> probs [batch, 3], logits [batch, 3]
    out/          the output directory (out/pred.h5 must not appear)
Numpy, h5py and onnx are imported lazily: listing the cases needs none of them.
"""
import os
import shutil

BASE_CONFIG = """\
input:
  file: in.h5
  dataset: /x
output:
  file: out/pred.h5
  dataset: {probs: /probs, logits: /logits}
model:
  file: model.onnx
runtime:
  device: cpu
  batch_size: 4
mode: static
"""

RAGGED_CONFIG = """\
input:
  file: ragged.h5
  dataset: /values
  offsets: /offsets
  mask: mask
output:
  file: out/pred.h5
  dataset: /logits
model:
  file: ragged.onnx
runtime:
  device: cpu
  batch_size: 4
mode: static
"""

ROWS, WIDTH = 200, 8
SEED = 20240611  # fixed: the files, hence the messages, are the same on every run


def _rng():
    import numpy as np
    return np.random.default_rng(SEED)


def onnx_model(nodes, inputs, outputs, initializers, opset=17):
    """A ModelProto from onnx.helper pieces. inputs/outputs: (name, elem_type, shape)."""
    from onnx import helper
    graph = helper.make_graph(
        nodes, "errors_case",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def mlp_model(width=WIDTH, hidden=16, classes=3, wrong_w1=False):
    """The base MLP; wrong_w1 gives fc1 a weight that does not fit its input."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper
    rng = _rng()
    w1 = rng.standard_normal((width + 1 if wrong_w1 else width, hidden)).astype(np.float32)
    b1 = np.zeros(hidden, np.float32)
    w2 = rng.standard_normal((hidden, classes)).astype(np.float32)
    b2 = np.zeros(classes, np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["hid"], name="fc1"),
             helper.make_node("Relu", ["hid"], ["h"], name="relu1"),
             helper.make_node("Gemm", ["h", "w2", "b2"], ["logits"], name="fc2"),
             helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1)]
    F = TensorProto.FLOAT
    return onnx_model(nodes, [("x", F, ["batch", width])],
                      [("probs", F, ["batch", classes]), ("logits", F, ["batch", classes])],
                      [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))])


class Case:
    """One case's directory; setup functions use these helpers (paths relative to it)."""

    def __init__(self, root, tool, mpiexec, env):
        self.dir = root
        self.tool = tool
        self.mpiexec = mpiexec
        self.env = env
        self.hold = []  # file descriptors a setup keeps open during the run (locks)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)

    def config(self, text):
        self.write("config.yaml", text)

    def edit_config(self, old, new):
        with open(self.path("config.yaml")) as f:
            text = f.read()
        assert old in text, f"'{old}' not in the base config"
        self.config(text.replace(old, new, 1))

    def h5(self, name, **datasets):
        """datasets: name -> numpy array, or "group" for an empty group, or a
        (value, dict of h5py create_dataset keywords) pair."""
        import h5py
        with h5py.File(self.path(name), "w") as f:
            for key, value in datasets.items():
                if isinstance(value, str) and value == "group":
                    f.create_group(key)
                elif isinstance(value, tuple):
                    f.create_dataset(key, data=value[0], **value[1])
                else:
                    f.create_dataset(key, data=value)

    def save_onnx(self, name, model):
        import onnx
        onnx.save(model, self.path(name))

    def load_onnx(self, name="model.onnx"):
        import onnx
        return onnx.load(self.path(name))

    def truncate(self, name, keep_fraction):
        size = os.path.getsize(self.path(name))
        os.truncate(self.path(name), int(size * keep_fraction))

    def x(self, rows=ROWS, width=WIDTH, dtype="float32"):
        """Random rows [rows, width] (fixed seed)."""
        return _rng().standard_normal((rows, width)).astype(dtype)

    def ragged(self, offsets=None, values_width=None, width=WIDTH):
        """ragged.h5 (/values [30, values_width or width], /offsets) and ragged.onnx
        (masked mean pooling, inputs x [batch, seq, width] and mask), and the
        ragged config. offsets: the array to store (default: a valid one)."""
        import numpy as np
        import sys
        tools = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools")
        sys.path.insert(0, tools)
        from make_ragged_example import make_model  # noqa: E402
        if offsets is None:
            offsets = np.array([0, 2, 5, 5, 9, 12, 13, 20, 21, 25, 30], np.int64)
        self.h5("ragged.h5", values=self.x(30, values_width or width), offsets=offsets)
        self.save_onnx("ragged.onnx", make_model(_rng(), d=width))
        self.config(RAGGED_CONFIG)

    def run_tool(self, args, ranks=1, env=None):
        """Runs mgi-mpi during setup (e.g. to leave a journal behind); returns the exit code."""
        import subprocess
        e = dict(self.env)
        e.update(env or {})
        cmd = [self.mpiexec, "-n", str(ranks), self.tool] + args
        return subprocess.run(cmd, cwd=self.dir, env=e, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=60).returncode


def make_base(root):
    """Writes the base files of every case into `root` (a cache copied per case)."""
    os.makedirs(os.path.join(root, "out"), exist_ok=True)
    c = Case(root, None, None, {})
    c.config(BASE_CONFIG)
    import numpy as np
    c.h5("in.h5", x=c.x(), cost=np.ones(ROWS, np.float32))
    c.save_onnx("model.onnx", mlp_model())


def copy_base(base, root):
    shutil.copytree(base, root)
