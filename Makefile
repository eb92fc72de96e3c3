# One-command setup, demo and tests. Every target is idempotent: the environment is built once
# into $(VENV) and rebuilt only when pyproject.toml or the detectron2 installer changes.
#
#   make demo    train + evaluate ViTMatte on the synthetic toy data (CPU, a few minutes)
#   make test    the test suite (fast; `make test-all` adds the slow-marked tests)
#   make lint    ruff check + ruff format --check (CI runs it; `make format` fixes)
#   make ablation  the paper's supervision-policy comparison at CPU scale -> docs/ablation.md
#                  (its run time is in that page)
#
# Use an existing environment (e.g. one with upstream detectron2 built for your GPU) with
#   make test VENV=/path/to/env

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.alphafree-installed
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
DEMO_CONFIG ?= configs/demo_ddc.py
PYTEST_ARGS ?=
ABLATION_ARGS ?= --output docs/

.PHONY: setup demo test test-all lint format benchmark readme-figure ablation clean

setup: $(STAMP)

PROJECT_PACKAGES := projects/ResNetMatte projects/SupervisionAblation

$(STAMP): pyproject.toml $(PROJECT_PACKAGES:%=%/pyproject.toml) tools/install_detectron2.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade "pip>=23"
	$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install $(TORCH_PINS)
	$(PY) tools/install_detectron2.py --cache-dir $(VENV)/cache
	$(PY) -m pip install -e ".[dev,interop]"
	$(PY) -m pip install --no-deps $(PROJECT_PACKAGES:%=-e %)
	# pymatting's numba kernels compile (and cache) on first import: do it once, here.
	$(PY) -c "import pymatting"
	touch $(STAMP)

datasets/toy_matting/.complete: $(STAMP) alphafree_matting/data/synthetic.py alphafree_matting/data/toy_dataset.py
	$(PY) tools/make_toy_dataset.py --output datasets/toy_matting

demo: $(STAMP) datasets/toy_matting/.complete
	$(PY) tools/lazyconfig_train_net.py --config-file $(DEMO_CONFIG)

test: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

benchmark: $(STAMP)
	$(PY) tools/benchmark_ddc.py --batch 2 --size 512 --window 11

readme-figure: $(STAMP)
	$(PY) tools/make_readme_figure.py

ablation: $(STAMP)
	$(PY) tools/reproduce_ablation.py $(ABLATION_ARGS)

clean:
	rm -rf output datasets/toy_matting datasets/toy_ablation
