"""tools/reproduce_ablation.py: runs are reused only when identical, and a smoke run (two
policies, a few iterations, tiny data) writes the report, the figures and a table of finite
numbers."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from detectron2.config import LazyConfig
from supervision_ablation.report import PAPER_POLICIES, POLICIES

from alphafree_matting.data.toy_dataset import MARKER
from tools import reproduce_ablation
from tools.reproduce_ablation import parse_args, run_overrides

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "reproduce_ablation.py"


METRIC_KEYS = ("SAD", "MSE", "MAD", "Grad", "Conn", "SAD-T", "MSE-T")


def test_reuse_runs_keeps_only_a_finished_run_of_the_same_command_and_data(tmp_path, monkeypatch):
    data_dir = tmp_path / "data" / reproduce_ablation.DATASET_DIR
    data_dir.mkdir(parents=True)
    (data_dir / MARKER).write_text(json.dumps({"num_train": 6}))
    argv = [
        "--work-dir",
        str(tmp_path / "runs"),
        "--data-root",
        str(tmp_path / "data"),
        "--reuse-runs",
    ]
    args = parse_args(argv)
    folder = Path(reproduce_ablation.run_dir(args.work_dir, "known_ddc", 0))
    (folder / "eval").mkdir(parents=True)
    (folder / "eval" / "matting_results.json").write_text("{}")
    command = [
        reproduce_ablation.TRAIN_NET,
        "--config-file",
        reproduce_ablation.policy_config("known_ddc"),
        *run_overrides("known_ddc", 0, args),
    ]
    record = {"command": command, "data": {"num_train": 6}, "seconds": 12.0}
    (folder / reproduce_ablation.RUN_RECORD).write_text(json.dumps(record))
    trained = []
    monkeypatch.setattr(
        reproduce_ablation.subprocess,
        "run",
        lambda command, **kwargs: (
            trained.append(command) or subprocess.CompletedProcess(command, 0)
        ),
    )

    assert reproduce_ablation.run_policy("known_ddc", 0, args) == (12.0, True)
    assert not trained

    (data_dir / MARKER).write_text(json.dumps({"num_train": 7}))
    seconds, reused = reproduce_ablation.run_policy("known_ddc", 0, args)
    assert not reused and len(trained) == 1
    # Retraining starts from an empty folder (detectron2 appends to an old metrics.json).
    assert not (folder / "eval").exists()
    assert json.loads((folder / reproduce_ablation.RUN_RECORD).read_text())["data"] == {
        "num_train": 7
    }


def test_default_policies_are_the_papers_five_and_the_mixed_policy_is_opt_in():
    assert (
        parse_args([]).policies
        == list(PAPER_POLICIES)
        == [
            "known_only",
            "known_affinity",
            "known_dc",
            "known_ddc",
            "alpha_l1",
        ]
    )
    chosen = parse_args(["--policies", "known_ddc,mixed_alpha10,alpha_l1"]).policies
    assert chosen == ["known_ddc", "mixed_alpha10", "alpha_l1"]


def test_unknown_policy_is_rejected_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--policies", "known_only,ddc_only"])
    error = capsys.readouterr().err
    assert "ddc_only" in error and "known_ddc" in error


def _first_table(markdown: str, heading: str) -> list[list[str]]:
    """Body rows of the first markdown table after ``heading``, as lists of cell texts."""
    lines = markdown.split(heading, 1)[1].splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(first, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = [line.strip("|").split("|") for line in lines[first + 2 : end]]  # skip header, rule
    return [[cell.strip() for cell in row] for row in rows]


def test_smoke_run_writes_report_figures_and_finite_table(tmp_path):
    docs = tmp_path / "docs"
    command = [
        sys.executable,
        str(TOOL),
        "--output",
        str(docs),
        "--work-dir",
        str(tmp_path / "runs"),
        "--data-root",
        str(tmp_path / "data"),
        "--policies",
        "known_ddc,alpha_l1",
        "--max-iter",
        "3",
        "--eval-period",
        "0",
        "--num-train",
        "6",
        "--num-val",
        "2",
        "--size",
        "32",
        "--num-visuals",
        "2",
        "--override",
        "dataloader.train.mapper.augmentations.0.crop_size=32",
        "--override",
        "dataloader.train.total_batch_size=2",
        "--override",
        "dataloader.train.num_workers=0",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    markdown = (docs / "ablation.md").read_text()
    rows = _first_table(markdown, "## Held-out results")
    assert [row[0] for row in rows] == [POLICIES["known_ddc"].title, POLICIES["alpha_l1"].title]
    for row in rows:
        values = [float(cell) for cell in row[1 : 1 + len(METRIC_KEYS)]]
        assert all(math.isfinite(value) and value >= 0 for value in values), row
    assert "SAD within 1.3x of alpha L1" in markdown  # the claims table covers these policies
    assert len(_first_table(markdown, "## Where the error is")) == 2
    ddc_rows = _first_table(markdown, "## DDC's optimum and the GT")
    assert [row[0] for row in ddc_rows][0] == "GT alpha" and len(ddc_rows) == 3
    assert re.search(r"Generated by `python tools/reproduce_ablation\.py .*--policies", markdown)

    for figure in ("ablation.png", "ablation_curves.png"):
        assert cv2.imread(str(docs / figure)) is not None, figure
    grid = cv2.imread(str(docs / "ablation_grid.png"))
    assert grid.shape[0] > 2 * 32 and grid.shape[1] > 5 * 32  # 2 rows x (3 + 2 policies) panels
    # Each run went through the stock training script with its own supervision.
    for name in ("known_ddc", "alpha_l1"):
        saved = LazyConfig.load(str(tmp_path / "runs" / name / "seed0" / "config.yaml"))
        policy = LazyConfig.load(reproduce_ablation.policy_config(name))
        assert dict(saved.model.criterion.losses) == dict(policy.model.criterion.losses)
