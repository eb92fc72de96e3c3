"""tools/reproduce_ablation.py: each policy changes only the supervision of the stock config, the
claims are checked with the issue's thresholds, and a smoke run (two policies, a few iterations,
tiny data) writes the report, the figures and a table of finite numbers."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from detectron2.config import LazyConfig, instantiate

from alphafree_matting.engine import apply_overrides

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "reproduce_ablation.py"
sys.path.insert(0, str(REPO / "tools"))
import reproduce_ablation  # noqa: E402
from reproduce_ablation import POLICIES, claims, parse_args, policy_overrides  # noqa: E402

METRIC_KEYS = ("SAD", "MSE", "MAD", "Grad", "Conn", "SAD-T", "MSE-T")


@pytest.mark.parametrize("name", list(POLICIES))
def test_policy_overrides_change_only_the_supervision_of_the_base_config(name, tmp_path):
    args = parse_args(["--work-dir", str(tmp_path), "--max-iter", "300"])
    base = LazyConfig.load(reproduce_ablation.DEFAULT_CONFIG)
    cfg = apply_overrides(
        LazyConfig.load(reproduce_ablation.DEFAULT_CONFIG), policy_overrides(name, 7, args)
    )
    # The dict override replaces the base's {"known": 1, "ddc": 10}, it does not merge into it.
    assert dict(cfg.model.criterion.losses) == POLICIES[name].losses
    assert cfg.model.criterion.window == base.model.criterion.window == 11
    for part in ("backbone", "decoder"):  # norm_layer is a functools.partial: compare the rest
        assert {k: v for k, v in cfg.model[part].items() if k != "norm_layer"} == {
            k: v for k, v in base.model[part].items() if k != "norm_layer"
        }
    assert (cfg.train.max_iter, cfg.train.seed) == (300, 7)
    assert cfg.train.output_dir == str(tmp_path / name / "seed7")
    scheduler = instantiate(cfg.lr_multiplier)  # steps in percent of training: at 180, 270
    assert scheduler(179 / 300) == 1.0 and scheduler(180 / 300) == pytest.approx(0.1)
    assert scheduler(269 / 300) == pytest.approx(0.1) and scheduler(270 / 300) == (
        pytest.approx(0.05)
    )
    alpha = POLICIES[name].label == "alpha"
    assert cfg.dataloader.train.mapper.label == ("alpha" if alpha else "trimap")
    assert cfg.dataloader.train.dataset.names == (
        "toy_ablation_train_alpha" if alpha else "toy_ablation_train"
    )
    assert cfg.dataloader.test.dataset.names == "toy_ablation_val"


def test_claims_use_the_issue_thresholds():
    def metrics(sad, grad, sad_t):
        return {"SAD": sad, "Grad": grad, "SAD-T": sad_t}

    holding = {
        "known_only": metrics(1.0, 1.0, 1.0),
        "known_ddc": metrics(0.65, 0.69, 0.79),
        "alpha_l1": metrics(0.5, 0.8, 0.5),
    }
    assert [ok for _, _, ok in claims(holding)] == [True, True, True]
    failing = {
        "known_only": metrics(1.0, 1.0, 1.0),
        "known_ddc": metrics(0.66, 0.71, 0.81),
        "alpha_l1": metrics(0.5, 0.8, 0.5),
    }
    assert [ok for _, _, ok in claims(failing)] == [False, False, False]


def test_reuse_runs_keeps_only_a_finished_run_of_the_same_command_and_data(tmp_path, monkeypatch):
    data_dir = tmp_path / "data" / reproduce_ablation.DATASET_DIR
    data_dir.mkdir(parents=True)
    (data_dir / reproduce_ablation.MARKER).write_text(json.dumps({"num_train": 6}))
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
        args.config,
        *policy_overrides("known_ddc", 0, args),
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

    (data_dir / reproduce_ablation.MARKER).write_text(json.dumps({"num_train": 7}))
    seconds, reused = reproduce_ablation.run_policy("known_ddc", 0, args)
    assert not reused and len(trained) == 1
    # Retraining starts from an empty folder (detectron2 appends to an old metrics.json).
    assert not (folder / "eval").exists()
    assert json.loads((folder / reproduce_ablation.RUN_RECORD).read_text())["data"] == {
        "num_train": 7
    }


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
        "--crop-size",
        "32",
        "--batch-size",
        "2",
        "--num-workers",
        "0",
        "--num-visuals",
        "2",
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
        assert dict(saved.model.criterion.losses) == POLICIES[name].losses


def test_error_by_alpha_splits_the_sad_of_a_prediction(tmp_path):
    from ablation_analysis import error_by_alpha
    from make_toy_dataset import make_toy_dataset

    from alphafree_matting.data.io import read_alpha, write_png

    make_toy_dataset(str(tmp_path / "data"), num_train=1, num_val=2, size=32, seed=0, workers=1)
    val = tmp_path / "data" / "val"
    opaque = tmp_path / "opaque"
    expected = 0.0
    for file in sorted(os.listdir(val / "alpha")):
        alpha = read_alpha(str(val / "alpha" / file))
        write_png(str(opaque / file), np.full(alpha.shape, 255, np.uint8))
        expected += (1 - alpha).sum() / 2 / 1000
    result = error_by_alpha(str(val), {"gt": str(val / "alpha"), "opaque": str(opaque)})
    assert all(value == 0 for value in result["gt"].values())
    parts = ("known", "unknown bg", "unknown fg", "unknown partial")
    assert sum(result["opaque"][key] for key in parts) == pytest.approx(expected, rel=1e-6)
    assert result["opaque"]["unknown fg"] < 1e-3  # the GT is >= 0.99 there
    assert result["opaque"]["partial signed"] == pytest.approx(result["opaque"]["unknown partial"])


def test_ddc_at_alphas_scores_the_gt_and_each_prediction_folder(tmp_path):
    from ablation_analysis import ddc_at_alphas
    from make_toy_dataset import make_toy_dataset

    from alphafree_matting.data.io import read_alpha, write_png

    make_toy_dataset(str(tmp_path / "data"), num_train=1, num_val=2, size=32, seed=0, workers=1)
    val = tmp_path / "data" / "val"
    hard = tmp_path / "hard"
    hard.mkdir()
    for file in sorted(os.listdir(val / "alpha")):
        alpha = read_alpha(str(val / "alpha" / file))
        write_png(str(hard / file), ((alpha > 0.5) * 255).astype("uint8"))
    result = ddc_at_alphas(str(val), {"copy": str(val / "alpha"), "hard": str(hard)}, window=5)
    assert set(result) == {"GT", "copy", "hard"}
    assert result["copy"] == result["GT"]
    assert result["hard"] != result["GT"]
    assert all(v >= 0 and math.isfinite(v) for r in result.values() for v in r.values())
