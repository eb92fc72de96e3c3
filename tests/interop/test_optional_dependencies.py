"""The training path imports none of the interop packages (they are an optional extra)."""

import subprocess
import sys

TRAINING_PATH = (
    "alphafree_matting",
    "alphafree_matting.checkpoint",
    "alphafree_matting.criterion",
    "alphafree_matting.data",
    "alphafree_matting.engine",
    "alphafree_matting.evaluation",
    "alphafree_matting.modeling",
    "alphafree_matting.predictor",
)
# safetensors is not listed: timm, a core dependency, imports it by itself.
INTEROP = ("transformers", "onnx", "onnxruntime", "onnxscript")


def test_training_path_imports_no_interop_package():
    code = (
        "import importlib, sys\n"
        f"for name in {TRAINING_PATH!r}: importlib.import_module(name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({INTEROP!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
