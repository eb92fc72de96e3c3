#!/usr/bin/env python
"""Make ``import detectron2`` work in the current Python environment.

Called by ``make`` (see the Makefile's ``setup`` target); safe to run again.

* If detectron2 already imports (e.g. a GPU user who built upstream detectron2 from source),
  nothing is done.
* Otherwise detectron2 0.6's Python sources are installed as a plain-Python package from the
  registry sdist ``pb1-detectron2==0.6`` (byte-identical to upstream v0.6's Python files, but
  without the C++/CUDA sources, so it cannot be pip-built). The compiled extension
  ``detectron2._C`` is replaced by a small module whose attribute access raises an ImportError
  explaining that compiled detectron2 ops are not built. Matting never uses them (they serve
  deformable convolution, rotated boxes and the fast COCO evaluator).

The sdist is downloaded from the package index once, checked against a pinned SHA-256, and
cached under ``.venv/cache`` (or ``$D2_SDIST`` may point at a local copy for offline machines).
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

SDIST_NAME = "pb1-detectron2-0.6.tar.gz"
SDIST_SHA256 = "5d2e9e51e523ec72f6a31cca04b0a515492e9514b773a3d134cedc0677170b29"
INDEX_URL = "https://pypi.org/simple/pb1-detectron2/"

# What detectron2 0.6 imports at run time (its setup.py's install_requires, minus black and the
# caffe2 helpers that matting never touches). Pillow < 10 because 0.6 uses ``PIL.Image.LINEAR``
# at import time, which Pillow 10 removed; setuptools < 81 because 0.6's model_zoo imports
# ``pkg_resources``.
RUNTIME_REQUIREMENTS = [
    "Pillow>=7.1,<10",
    "setuptools<81",
    "matplotlib",
    "pycocotools>=2.0.2",
    "termcolor>=1.1",
    "yacs>=0.1.8",
    "tabulate",
    "cloudpickle",
    "tqdm>4.29.0",
    "tensorboard",
    "fvcore>=0.1.5,<0.1.6",
    "iopath>=0.1.7,<0.1.10",
    "omegaconf>=2.1",
    "hydra-core>=1.1",
]

STUB_VERSION = 2
"""Bumped whenever C_STUB changes, so that `make` refreshes an existing installation."""

C_STUB = f'''"""Stand-in for detectron2's compiled extension (not built in this install).

Installed by alphafree_matting's tools/install_detectron2.py. The pure-Python parts of
detectron2 (LazyConfig, engine, checkpointer, solver, data, evaluation) work without it.
"""

ALPHAFREE_STUB_VERSION = {STUB_VERSION}


# Build information that detectron2.utils.collect_env asks for.
def get_compiler_version():
    return "not built (detectron2 installed from Python sources only)"


def get_cuda_version():
    return "not built"


def has_cuda():
    return False


def __getattr__(name):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    raise ImportError(
        f"detectron2._C.{{name}}: compiled detectron2 ops are not built in this installation "
        "(detectron2 0.6 was installed from Python sources only). Matting does not use them; "
        "if you need deformable convolution, rotated boxes or the fast COCO evaluator, build "
        "detectron2 from source: https://detectron2.readthedocs.io/en/latest/tutorials/install.html"
    )
'''

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "detectron2"
version = "0.6+pyonly"
description = "detectron2 0.6 Python sources without compiled ops (from pb1-detectron2==0.6)"
license = "Apache-2.0"
requires-python = ">=3.8"

[tool.setuptools.packages.find]
include = ["detectron2*"]

[tool.setuptools.package-data]
"detectron2.model_zoo" = ["configs/**/*.yaml", "configs/**/*.py"]
"""


def detectron2_importable() -> bool:
    """Whether a usable detectron2 is installed (an outdated stub of ours counts as not)."""
    if importlib.util.find_spec("detectron2") is None:
        return False
    probe = (
        "import detectron2.config, detectron2.engine, importlib.util, sys\n"
        "spec = importlib.util.find_spec('detectron2._C')\n"
        "if spec is not None and spec.origin.endswith('_C.py'):\n"
        "    stub = open(spec.origin).read()\n"
        f"    sys.exit(0 if 'ALPHAFREE_STUB_VERSION = {STUB_VERSION}\\n' in stub else 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if result.returncode == 3:
        print("refreshing the pure-Python detectron2 installation (newer stub)")
        return False
    if result.returncode != 0:
        print(f"detectron2 is installed but does not import:\n{result.stderr}", file=sys.stderr)
        sys.exit(
            "Fix or uninstall the broken detectron2 (pip uninstall detectron2), then re-run make."
        )
    return True


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sdist_url() -> str:
    request = urllib.request.Request(
        INDEX_URL, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        index = json.load(response)
    for entry in index["files"]:
        if entry["filename"] == SDIST_NAME:
            return entry["url"]
    raise SystemExit(f"{SDIST_NAME} is not listed at {INDEX_URL}")


def fetch_sdist(cache_dir: Path) -> Path:
    local = os.environ.get("D2_SDIST")
    path = Path(local) if local else cache_dir / SDIST_NAME
    if not path.exists():
        if local:
            raise SystemExit(f"D2_SDIST={local} does not exist.")
        cache_dir.mkdir(parents=True, exist_ok=True)
        url = sdist_url()
        print(f"downloading {url}")
        partial = path.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=120) as response, open(partial, "wb") as f:
            shutil.copyfileobj(response, f)
        partial.rename(path)
    if sha256_of(path) != SDIST_SHA256:
        raise SystemExit(
            f"{path} does not have the expected SHA-256 {SDIST_SHA256}; delete it and re-run."
        )
    return path


def install_python_only(sdist: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(sdist) as tar:
            members = [m for m in tar.getmembers() if "/detectron2/" in m.name]
            tar.extractall(tmp, members=members, filter="data")
        source = Path(tmp) / sdist.name[: -len(".tar.gz")]
        (source / "detectron2" / "_C.py").write_text(C_STUB)
        (source / "pyproject.toml").write_text(PYPROJECT)
        pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation"]
        pip += ["--force-reinstall"]
        subprocess.run(pip + [str(source)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", default=".venv/cache", type=Path)
    args = parser.parse_args()
    if detectron2_importable():
        import detectron2

        print(f"using the installed detectron2 {detectron2.__version__} ({detectron2.__file__})")
        return
    subprocess.run([sys.executable, "-m", "pip", "install", *RUNTIME_REQUIREMENTS], check=True)
    install_python_only(fetch_sdist(args.cache_dir))
    if not detectron2_importable():
        raise SystemExit("detectron2 still does not import after installation.")
    print("installed detectron2 0.6 (Python sources, no compiled ops)")


if __name__ == "__main__":
    main()
