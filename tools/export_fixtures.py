#!/usr/bin/env python3
"""Writes the small PyTorch-exported fixture models of tests/fixtures/models/.

Runs in .venv-torch (tools/torch-venv.sh makes it), never in the test venv:

    .venv-torch/bin/python tools/export_fixtures.py [--out tests/fixtures/models] [--only resnet,unet]

Every model has seeded random weights (torch.manual_seed per model; BatchNorm running
statistics randomised too, so normalisation is not the identity), is exported from eval
mode, checked against PyTorch with onnxruntime at two batch sizes (and two sequence
lengths for the encoder), and its op types and opset are printed and written to
<out>/ops.txt. The models:

  bert_ts.onnx        BERT-style encoder (2 layers, hidden 64, 4 heads, vocab 1000) with
                      masked mean pooling and L2 normalisation; inputs input_ids and
                      attention_mask (int64 [batch, seq]); TorchScript exporter (dynamo=False)
  bert_dynamo.onnx    the same weights through the dynamo exporter (dynamo=True), weights
  (+ .onnx.data)      in the external-data file beside it
  resnet.onnx         ResNet-style CNN: pre-activation residual blocks (BatchNorm kept in the
                      graph, and BatchNorm folded into Conv), MaxPool, GlobalAveragePool,
                      Linear; input [N, 3, 32, 32] -> logits [N, 10]; TorchScript exporter
  unet.onnx           UNet-style segmenter: Conv/BatchNorm/ReLU, MaxPool, ConvTranspose and
                      nearest Resize up, Concat skips, ArgMax over the classes; input
                      [N, 1, 32, 32] -> logits [N, 4, 32, 32] and labels int64 [N, 32, 32];
                      dynamo exporter, weights inline
  conv1d.onnx         1-D conv net over signals: Conv1d (padding, stride, dilation), MaxPool,
                      AveragePool, GlobalAveragePool, Linear, Softmax; input [N, 2, 128] ->
                      logits and probs [N, 5]; TorchScript exporter

The committed files were made by this script; rerun it to regenerate (exporters of another
torch version may emit other op sequences: check ops.txt's diff and the fixture tests).
"""
import argparse
import os
import sys
import warnings
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TS_OPSET = 17      # TorchScript exporter: every op used here exists at 17 (LayerNormalization too)
DYNAMO_OPSET = 18  # the dynamo exporter's own default


# ----------------------------------------------------------------------------- models

class MeanPoolEncoder(nn.Module):
    """A BERT encoder, masked mean pooling over the real tokens, L2 normalisation: the
    sentence-transformers recipe. Outputs 'embedding' (normalised) and 'pooled'."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled, p=2.0, dim=1), pooled


def make_bert():
    from transformers import BertConfig, BertModel
    torch.manual_seed(1)
    cfg = BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=128, type_vocab_size=2,
                     hidden_act="gelu", attn_implementation="eager")
    bert = BertModel(cfg, add_pooling_layer=False)
    bert.config._attn_implementation = "eager"  # plain MatMul/Softmax attention, whatever the default
    return MeanPoolEncoder(bert).eval()


def randomise_batchnorm(model, gen):
    """Random running statistics and affine parameters, so BatchNorm is not the identity."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


class PreActBlock(nn.Module):
    """Pre-activation residual block: BN-ReLU-Conv-BN-ReLU-Conv + skip (1x1 conv when the
    shape changes). The first BatchNorm follows an Add (stays a BatchNormalization node);
    the second follows a Conv (the TorchScript exporter folds it into the Conv)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.skip = None if stride == 1 and cin == cout else nn.Conv2d(cin, cout, 1, stride=stride, bias=False)

    def forward(self, x):
        y = F.relu(self.bn1(x))
        skip = x if self.skip is None else self.skip(y)
        y = self.conv1(y)
        y = self.conv2(F.relu(self.bn2(y)))
        return y + skip


class ResNetSmall(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)           # 32 -> 16
        self.blocks = nn.Sequential(PreActBlock(16, 16, 1), PreActBlock(16, 32, 2),  # -> 8
                                    PreActBlock(32, 64, 2))                          # -> 4
        self.bn = nn.BatchNorm2d(64)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        y = self.blocks(self.pool(self.stem(x)))
        y = self.gap(F.relu(self.bn(y)))
        return self.fc(torch.flatten(y, 1))


def conv_bn_relu(cin, cout, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class UNetSmall(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.enc1 = nn.Sequential(conv_bn_relu(1, 8), conv_bn_relu(8, 8))        # 32x32
        self.enc2 = nn.Sequential(conv_bn_relu(8, 16), conv_bn_relu(16, 16))     # 16x16
        self.mid = conv_bn_relu(16, 32)                                          # 8x8
        self.up2 = nn.ConvTranspose2d(32, 16, 2, stride=2)                       # -> 16x16
        self.dec2 = conv_bn_relu(32, 16)
        self.up1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),    # -> 32x32
                                 nn.Conv2d(16, 8, 1))
        self.dec1 = conv_bn_relu(16, 8)
        self.head = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        logits = self.head(d1)
        return logits, torch.argmax(logits, dim=1)


class Conv1dNet(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.c1 = nn.Conv1d(2, 16, 7, padding=3)
        self.c2 = nn.Conv1d(16, 32, 5, padding=4, dilation=2, bias=False)
        self.bn2 = nn.BatchNorm1d(32)
        self.c3 = nn.Conv1d(32, 32, 3, stride=2, padding=1)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):                                    # [N, 2, 128]
        y = F.max_pool1d(F.relu(self.c1(x)), 2)              # [N, 16, 64]
        y = F.avg_pool1d(F.relu(self.bn2(self.c2(y))), 2)    # [N, 32, 32]
        y = F.relu(self.c3(y))                               # [N, 32, 16]
        y = F.adaptive_avg_pool1d(y, 1).flatten(1)           # [N, 32]
        logits = self.fc(y)
        return logits, torch.softmax(logits, dim=1)


def make_cnn(cls, seed):
    torch.manual_seed(seed)
    model = cls()
    randomise_batchnorm(model, torch.Generator().manual_seed(seed + 1000))
    return model.eval()


# ----------------------------------------------------------------------------- export

def export_torchscript(model, args, path, input_names, output_names, dynamic_axes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, path, dynamo=False, opset_version=TS_OPSET,
                          input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)


def export_dynamo(model, args, path, input_names, output_names, dynamic_shapes, external_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(model, args, dynamo=True, opset_version=DYNAMO_OPSET,
                                 input_names=input_names, output_names=output_names,
                                 dynamic_shapes=dynamic_shapes, verbose=False)
    prog.optimize()
    data = os.path.basename(path) + ".data"
    for p in (path, path + ".data"):
        if os.path.exists(p):
            os.remove(p)
    prog.save(path, external_data=external_data)
    if not external_data and os.path.exists(path + ".data"):
        os.remove(path + ".data")
    return data


def describe(path):
    """(opset, Counter of op types, dims of inputs/outputs), subgraphs included."""
    m = onnx.load(path, load_external_data=False)
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    ops = Counter()

    def walk(g):
        for n in g.node:
            ops[(n.domain + "." if n.domain not in ("", "ai.onnx") else "") + n.op_type] += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)
    walk(m.graph)
    for f in m.functions:  # local functions (dynamo exporter) are inlined by optimize(), but count any
        ops["function:" + f.name] += 1

    def sig(v):
        t = v.type.tensor_type
        dims = [d.dim_param or str(d.dim_value) for d in t.shape.dim]
        return f"{v.name} {onnx.TensorProto.DataType.Name(t.elem_type).lower()} [{', '.join(dims)}]"
    io_ = [("in", sig(v)) for v in m.graph.input] + [("out", sig(v)) for v in m.graph.output]
    return opset, ops, io_


def check_against_torch(model, path, feeds_list, output_names):
    """Runs onnxruntime on each feed set and compares every output with PyTorch's."""
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for feeds in feeds_list:
        with torch.no_grad():
            ref = model(*[torch.from_numpy(v) for v in feeds.values()])
        ref = ref if isinstance(ref, tuple) else (ref,)
        got = sess.run(output_names, feeds)
        for name, r, g in zip(output_names, ref, got):
            r = r.numpy()
            if r.shape != g.shape:
                sys.exit(f"{path}: output {name} shape {g.shape}, torch gives {r.shape}")
            if np.issubdtype(r.dtype, np.integer):
                agree = float(np.mean(r == g))
                if agree < 0.999:
                    sys.exit(f"{path}: output {name}: only {agree:.4f} of the values equal torch's")
                continue
            err = float(np.max(np.abs(r - g))) / max(float(np.max(np.abs(r))), 1e-6)
            worst = max(worst, err)
            if err > 1e-4:
                sys.exit(f"{path}: output {name} differs from torch: rel err {err:.3g}")
    return worst


def report(name, path, worst, lines):
    opset, ops, io_ = describe(path)
    size = os.path.getsize(path) + (os.path.getsize(path + ".data") if os.path.exists(path + ".data") else 0)
    head = f"{name}: opset {opset}, {sum(ops.values())} nodes, {size / 1024:.0f} KiB" + \
           (" (external data)" if os.path.exists(path + ".data") else "")
    print(head)
    for kind, s in io_:
        print(f"  {kind:3} {s}")
    print("  ops: " + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())))
    print(f"  onnxruntime vs torch: max rel err {worst:.2g}")
    lines.append(head)
    lines += [f"  {kind:3} {s}" for kind, s in io_]
    lines.append("  ops: " + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())))


def bert_feeds(rng, batch, seq):
    ids = rng.integers(1, 1000, size=(batch, seq), dtype=np.int64)
    lengths = rng.integers(1, seq + 1, size=batch)
    lengths[0] = seq
    mask = (np.arange(seq)[None, :] < lengths[:, None]).astype(np.int64)
    return {"input_ids": ids * mask, "attention_mask": mask}


def export_all(out, only):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(7)
    lines = [f"# Made by tools/export_fixtures.py with torch {torch.__version__}, onnx {onnx.__version__}; "
             f"checked with onnxruntime {ort.__version__}", ""]
    want = lambda n: not only or n in only  # noqa: E731

    if want("bert_ts") or want("bert_dynamo"):
        bert = make_bert()
        names_in, names_out = ["input_ids", "attention_mask"], ["embedding", "pooled"]
        example = tuple(torch.from_numpy(v) for v in bert_feeds(rng, 2, 16).values())
        feeds = [bert_feeds(rng, 1, 9), bert_feeds(rng, 3, 23), bert_feeds(rng, 5, 128)]
        if want("bert_ts"):
            p = os.path.join(out, "bert_ts.onnx")
            export_torchscript(bert, example, p, names_in, names_out,
                               {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                "embedding": {0: "batch"}, "pooled": {0: "batch"}})
            report("bert_ts", p, check_against_torch(bert, p, feeds, names_out), lines)
        if want("bert_dynamo"):
            p = os.path.join(out, "bert_dynamo.onnx")
            batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("seq", min=1, max=128)
            export_dynamo(bert, example, p, names_in, names_out,
                          {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                          external_data=True)
            report("bert_dynamo", p, check_against_torch(bert, p, feeds, names_out), lines)

    if want("resnet"):
        model = make_cnn(ResNetSmall, 2)
        p = os.path.join(out, "resnet.onnx")
        export_torchscript(model, (torch.randn(2, 3, 32, 32),), p, ["images"], ["logits"],
                           {"images": {0: "batch"}, "logits": {0: "batch"}})
        feeds = [{"images": rng.standard_normal((b, 3, 32, 32), dtype=np.float32)} for b in (1, 5)]
        report("resnet", p, check_against_torch(model, p, feeds, ["logits"]), lines)

    if want("unet"):
        model = make_cnn(UNetSmall, 3)
        p = os.path.join(out, "unet.onnx")
        batch = torch.export.Dim("batch", min=1, max=4096)
        export_dynamo(model, (torch.randn(2, 1, 32, 32),), p, ["image"], ["logits", "labels"],
                      {"x": {0: batch}}, external_data=False)
        feeds = [{"image": rng.standard_normal((b, 1, 32, 32), dtype=np.float32)} for b in (1, 4)]
        report("unet", p, check_against_torch(model, p, feeds, ["logits", "labels"]), lines)

    if want("conv1d"):
        model = make_cnn(Conv1dNet, 4)
        p = os.path.join(out, "conv1d.onnx")
        export_torchscript(model, (torch.randn(2, 2, 128),), p, ["signal"], ["logits", "probs"],
                           {"signal": {0: "batch"}, "logits": {0: "batch"}, "probs": {0: "batch"}})
        feeds = [{"signal": rng.standard_normal((b, 2, 128), dtype=np.float32)} for b in (1, 6)]
        report("conv1d", p, check_against_torch(model, p, feeds, ["logits", "probs"]), lines)

    if not only:
        with open(os.path.join(out, "ops.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "models"))
    ap.add_argument("--only", default="", help="comma-separated subset: bert_ts,bert_dynamo,resnet,unet,conv1d "
                                               "(ops.txt is only rewritten by a full run)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    export_all(args.out, [s for s in args.only.split(",") if s])


if __name__ == "__main__":
    main()
