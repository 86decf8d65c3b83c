#!/usr/bin/env python3
"""The script a user would write instead of mgi-mpi: mpi4py + h5py + PyTorch.

Each rank opens the HDF5 file with h5py, reads its contiguous slice of the input
batch by batch, runs the same weights (the ONNX file's Gemm initializers loaded
into torch.nn.Linear layers, ReLU between them) on its GPU, and keeps the results;
rank 0 gathers every rank's results with comm.Gatherv and writes them with h5py.
Without mpi4py it runs as one process (the whole file on one GPU).

    mpirun -np 1 python bench/peers/torch_h5py.py --model M.onnx --data D.h5 --out O.h5 \\
        --batch 8192 [--precision fp32|tf32|bf16|fp16] [--device cuda|cpu]

Other architectures (--arch; the same modules bench/models.py exports to ONNX, from
bench/peers/torch_models.py):
  resnet50  the benchmark's ResNet-50 with its saved weights (--weights R.pt); input /x [N, 3, 224, 224]
  minilm    all-MiniLM-L6-v2 (transformers' BertModel from the model package's safetensors, mean
            pooling, L2 normalisation); ragged token ids (/values + /offsets, as mgi-mpi's
            input.offsets): each batch of consecutive rows is padded to its longest row with
            attention_mask and token_type_ids 0, as a script would; writes --output
--threads T sets torch.set_num_threads on the CPU.

Prints one JSON line on rank 0: rows, e2e_s (first read to the output file closed,
after a warm-up batch; what mgi-mpi's report calls run_s), and rank 0's read_s
(h5py), compute_s (host->device copy, forward, device->host copy: .cpu() waits for
the GPU), gather_s and write_s. bf16/fp16 run under torch.autocast, as a user
would; tf32 sets torch.backends.cuda.matmul.allow_tf32.
"""
import argparse
import json
import time

import h5py
import numpy as np


def load_weights(model_path):
    """[(W [out, in], b [out])] of the benchmark MLP (initializers w0, b0, w1, ...)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(str(model_path))
    t = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    return [(t[f"w{i}"], t[f"b{i}"]) for i in range(len(t) // 2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16", "fp16"])
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help="cpu: the CPU peer of bench/models.py (or to test the script)")
    ap.add_argument("--input", default="x")
    ap.add_argument("--output", default="y")
    ap.add_argument("--arch", default="mlp", choices=["mlp", "resnet50", "minilm"])
    ap.add_argument("--weights", help="resnet50: the state_dict saved by torch_models.py")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (CPU)")
    a = ap.parse_args()
    try:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    except (ImportError, RuntimeError):  # RuntimeError: a pip mpi4py finding no MPI library
        MPI = comm = None
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm else (0, 1)

    import torch
    if a.device == "cuda":
        dev = torch.device("cuda", rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    else:
        dev = torch.device("cpu")
    if a.threads:
        torch.set_num_threads(a.threads)
    autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)
    if a.arch == "mlp":
        layers = []
        weights = load_weights(a.model)
        for w, b in weights:
            lin = torch.nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
            layers += [lin, torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers[:-1]).to(dev).eval()
        width = weights[-1][0].shape[0]
    else:
        import torch_models
        net = (torch_models.load_resnet50(a.weights) if a.arch == "resnet50" else torch_models.load_minilm()).to(dev)
        width = 1000 if a.arch == "resnet50" else net.bert.config.hidden_size

    def forward(xb):
        with torch.inference_mode(), torch.autocast(dev.type, dtype=autocast, enabled=autocast is not None):
            if a.arch == "minilm":
                ids, mask = (torch.from_numpy(v).to(dev) for v in xb)
                return net(ids, mask, torch.zeros_like(ids)).float().cpu().numpy()
            return net(torch.from_numpy(xb).to(dev)).float().cpu().numpy()

    t_read = t_compute = t_gather = t_write = 0.0
    with h5py.File(a.data, "r") as f:
        if a.arch == "minilm":
            offsets = f["offsets"][:]  # before the clock, as mgi-mpi reads its row index first
            values = f["values"]
            rows = len(offsets) - 1

            def read(r0, r1):
                offs = offsets[r0:r1 + 1]
                v = values[offs[0]:offs[-1]]
                lengths = np.diff(offs)
                ids = np.zeros((len(lengths), max(1, int(lengths.max()))), np.int64)
                mask = np.zeros(ids.shape, np.int64)
                for j, (s, n) in enumerate(zip(offs[:-1] - offs[0], lengths)):
                    ids[j, :n] = v[s:s + n]
                    mask[j, :n] = 1
                return ids, mask
        else:
            x = f[a.input]
            rows = x.shape[0]

            def read(r0, r1):
                return x[r0:r1]
        lo, hi = rows * rank // size, rows * (rank + 1) // size
        forward(read(lo, lo + max(1, min(a.batch, hi - lo))))  # warm-up: CUDA context, cuBLAS handles, kernels
        if comm:
            comm.Barrier()
        t0 = time.perf_counter()
        parts = []
        for r in range(lo, hi, a.batch):
            t1 = time.perf_counter()
            xb = read(r, min(r + a.batch, hi))
            t2 = time.perf_counter()
            parts.append(forward(xb))
            t3 = time.perf_counter()
            t_read += t2 - t1
            t_compute += t3 - t2
    local = np.ascontiguousarray(np.concatenate(parts) if parts else np.empty((0, width), np.float32))
    t1 = time.perf_counter()
    if comm:
        counts = np.array(comm.allgather(local.shape[0]), np.int64) * width
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        y = np.empty((rows, width), np.float32) if rank == 0 else None
        comm.Gatherv(local, [y, counts, displs, MPI.FLOAT] if rank == 0 else None, root=0)
    else:
        y = local
    t2 = time.perf_counter()
    t_gather = t2 - t1
    if rank == 0:
        with h5py.File(a.out, "w") as fo:
            fo.create_dataset(a.output, data=y)
    t_write = time.perf_counter() - t2
    total = time.perf_counter() - t0
    if rank == 0:
        print(json.dumps({"rows": rows, "e2e_s": total, "read_s": t_read, "compute_s": t_compute,
                          "gather_s": t_gather, "write_s": t_write, "ranks": size, "mpi": comm is not None,
                          "device": f"torch {torch.__version__} {dev}"
                                    + (f" {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""),
                          "precision": a.precision, "arch": a.arch, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
