#!/usr/bin/env python
"""Reproduce the paper's supervision-policy comparison (Tables 1 and 4) at CPU scale.

    python tools/reproduce_ablation.py --output docs/       # the committed docs/ablation.md
    python tools/reproduce_ablation.py --output /tmp/abl --policies known_only,known_ddc \\
        --max-iter 200 --seeds 0,1 --override model.criterion.window=7 --reuse-runs
    python tools/reproduce_ablation.py --output docs/mixed_supervision \\
        --policies known_ddc,mixed_alpha10,alpha_l1     # docs/mixed_supervision.md

Every policy is a config of ``projects/SupervisionAblation/configs/`` (``known_ddc.py`` is the
base); the default ``--policies`` are the paper's five (``mixed_alpha10``, 10 % alpha + 90 %
trimap, is opt-in). The tool writes the synthetic composites to ``<data-root>/toy_ablation``
(skipped when there), trains each config with ``tools/lazyconfig_train_net.py`` (adding only the
run folder, the seed and the given overrides) into ``<work-dir>/<policy>/seed<seed>``, reads
each run's final held-out evaluation and ``metrics.json``, and writes ``ablation.md`` and its
figures to ``--output`` (``supervision_ablation``: the comparison and the report).
"""

import argparse
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Optional

import numpy as np
from detectron2.config import LazyConfig
from supervision_ablation.comparison import (
    comparison_grid,
    ddc_at_alphas,
    ddc_section,
    error_by_alpha,
    error_section,
    plot_bars,
    plot_curves,
    training_records,
)
from supervision_ablation.report import (
    PAPER_POLICIES,
    POLICIES,
    Study,
    write_report,
)

from alphafree_matting.data import datasets_root
from alphafree_matting.data.io import write_png
from alphafree_matting.data.toy_dataset import MARKER, make_toy_dataset
from alphafree_matting.engine import apply_overrides
from alphafree_matting.evaluation import BENCHMARK_KEYS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_NET = os.path.join(REPO, "tools", "lazyconfig_train_net.py")
CONFIG_DIR = os.path.join(REPO, "projects", "SupervisionAblation", "configs")
DATASET_DIR = "toy_ablation"  # under --data-root; the configs' splits read it from there
RUN_RECORD = "ablation_run.json"


# --- running -------------------------------------------------------------------------------------
def policy_config(name: str) -> str:
    return os.path.join(CONFIG_DIR, f"{name}.py")


def run_overrides(name: str, seed: int, args: argparse.Namespace) -> list[str]:
    """What a run adds to its policy's config: its folder, its seed, the shared overrides."""
    overrides = [f"train.output_dir={run_dir(args.work_dir, name, seed)}", f"train.seed={seed}"]
    if args.max_iter is not None:
        overrides.append(f"train.max_iter={args.max_iter}")
        overrides.append(f"train.checkpointer.period={args.max_iter}")
    if args.eval_period is not None:
        overrides.append(f"train.eval_period={args.eval_period}")
    return overrides + list(args.override)


def run_config(name: str, args: argparse.Namespace):
    """The config a run of policy ``name`` trains with (its first seed)."""
    return apply_overrides(
        LazyConfig.load(policy_config(name)), run_overrides(name, args.seeds[0], args)
    )


def run_dir(work_dir: str, name: str, seed: int) -> str:
    return os.path.join(work_dir, name, f"seed{seed}")


def run_policy(name: str, seed: int, args: argparse.Namespace) -> tuple[float, bool]:
    """Train and evaluate one policy with one seed.

    Returns:
        the wall-clock seconds of the run (as recorded then, for a reused run) and whether
        ``--reuse-runs`` kept an earlier run.
    """
    folder = run_dir(args.work_dir, name, seed)
    tag = f"[{name}, seed {seed}]"
    command = [
        sys.executable,
        TRAIN_NET,
        "--config-file",
        policy_config(name),
        *run_overrides(name, seed, args),
    ]
    data_marker = os.path.join(args.data_root, DATASET_DIR, MARKER)
    record = {"command": command[1:], "data": _load_json(data_marker, None)}
    previous = _load_json(os.path.join(folder, RUN_RECORD), {})
    if (
        args.reuse_runs
        and os.path.isfile(_results_path(folder))
        and all(previous.get(key) == value for key, value in record.items())
    ):
        print(f"{tag} reusing the finished run in {folder}")
        return previous["seconds"], True
    # A fresh folder: detectron2 appends to an existing metrics.json.
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    env = dict(os.environ, DETECTRON2_DATASETS=args.data_root)
    print(f"{tag} training: {shlex.join(command[1:])}", flush=True)
    start = time.perf_counter()
    with open(os.path.join(folder, "stdout.txt"), "w") as log:
        result = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        with open(os.path.join(folder, "stdout.txt")) as log:
            tail = log.read()[-4000:]
        raise SystemExit(
            f"{tag} training failed (exit {result.returncode}); the end of "
            f"{folder}/stdout.txt:\n{tail}"
        )
    print(f"{tag} done in {seconds / 60:.1f} min", flush=True)
    with open(os.path.join(folder, RUN_RECORD), "w") as handle:
        json.dump({**record, "seconds": seconds}, handle, indent=1)
    return seconds, False


def _results_path(run_dir: str) -> str:
    return os.path.join(run_dir, "eval", "matting_results.json")


def _load_json(path: str, default):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default


def final_metrics(run_dir: str) -> dict[str, float]:
    """The held-out metrics of the run's final model (the last evaluation it wrote)."""
    results = _load_json(_results_path(run_dir), None)
    if results is None:
        raise SystemExit(
            f"no evaluation results in {_results_path(run_dir)}: the run did not "
            "finish; run again without --reuse-runs"
        )
    return {key: float(results["metrics"][key]) for key in BENCHMARK_KEYS}


# --- main ----------------------------------------------------------------------------------------
def _int_list(text: str) -> list[int]:
    return [int(item) for item in text.split(",") if item.strip()]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="docs", help="folder of ablation.md and the figures")
    parser.add_argument("--work-dir", default="output/ablation", help="training runs")
    parser.add_argument(
        "--data-root",
        default=datasets_root(),
        help=f"DETECTRON2_DATASETS of the runs; the data is <it>/{DATASET_DIR}",
    )
    parser.add_argument(
        "--policies",
        default=",".join(PAPER_POLICIES),
        help=f"comma-separated subset of {', '.join(POLICIES)} (default: the paper's five)",
    )
    # The budget is the configs'; these override it for every policy.
    parser.add_argument("--max-iter", type=int, help="iterations per policy (train.max_iter)")
    parser.add_argument(
        "--eval-period", type=int, help="held-out evaluation period (0: only at the end)"
    )
    parser.add_argument(
        "--seeds",
        type=_int_list,
        default=[0],
        help="comma-separated training seeds; every policy runs every seed",
    )
    parser.add_argument("--num-train", type=int, default=600, help="training images")
    parser.add_argument("--num-val", type=int, default=50, help="held-out images")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--data-seed", type=int, default=0, help="synthetic data seed")
    parser.add_argument("--num-visuals", type=int, default=4, help="rows of the grid")
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every policy (repeatable), e.g. model.criterion.window=7",
    )
    parser.add_argument(
        "--reuse-runs",
        action="store_true",
        help="keep finished runs whose command and data are unchanged",
    )
    args = parser.parse_args(argv)
    args.policies = [name.strip() for name in args.policies.split(",") if name.strip()]
    unknown = sorted(set(args.policies) - set(POLICIES))
    if unknown or not args.policies:
        parser.error(f"--policies: unknown {unknown}; choose from {', '.join(POLICIES)}")
    if not args.seeds or min(args.seeds) < 0:
        parser.error("--seeds: give one or more seeds >= 0, e.g. --seeds 0,1,2")
    if min(args.max_iter or 1, args.num_train, args.num_val, args.num_visuals) < 1:
        parser.error("--max-iter, --num-train, --num-val and --num-visuals must be >= 1")
    args.default_budget = not args.override and args.max_iter is None and args.seeds == [0]
    for name in ("work_dir", "data_root", "output"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    start = time.perf_counter()
    make_toy_dataset(
        os.path.join(args.data_root, DATASET_DIR),
        args.num_train,
        args.num_val,
        args.size,
        args.data_seed,
        workers=min(2, os.cpu_count() or 1),
    )
    runs = {
        (name, seed): run_policy(name, seed, args) for name in args.policies for seed in args.seeds
    }
    seconds = {name: sum(runs[name, seed][0] for seed in args.seeds) for name in args.policies}
    per_seed = {
        name: [final_metrics(run_dir(args.work_dir, name, seed)) for seed in args.seeds]
        for name in args.policies
    }
    metrics = {
        name: {key: float(np.mean([m[key] for m in runs])) for key in BENCHMARK_KEYS}
        for name, runs in per_seed.items()
    }
    bad = {name: m for name, m in metrics.items() if not all(map(math.isfinite, m.values()))}
    if bad:
        raise SystemExit(f"non-finite held-out metrics: {bad}")
    first_runs = {name: run_dir(args.work_dir, name, args.seeds[0]) for name in args.policies}
    os.makedirs(args.output, exist_ok=True)
    plot_bars(metrics, os.path.join(args.output, "ablation.png"))
    plot_curves(
        {name: training_records(folder) for name, folder in first_runs.items()},
        os.path.join(args.output, "ablation_curves.png"),
    )
    val_root = os.path.join(args.data_root, DATASET_DIR, "val")
    alphas = {name: os.path.join(folder, "eval", "alpha") for name, folder in first_runs.items()}
    write_png(
        os.path.join(args.output, "ablation_grid.png"),
        comparison_grid(
            val_root, {POLICIES[name].short: alphas[name] for name in alphas}, args.num_visuals
        ),
        compression=9,
    )
    # DDC as the runs' criterion defines it (window, neighbour count, border)
    criterion = run_config("known_ddc", args).model.criterion
    ddc_options = dict(
        window=criterion.window, k=criterion.get("k"), border=criterion.get("border", "zeros")
    )
    titles = {name: POLICIES[name].title for name in args.policies}
    analyses = error_section(error_by_alpha(val_root, alphas), titles) + ddc_section(
        ddc_at_alphas(val_root, alphas, **ddc_options), criterion.window, titles
    )
    threads = os.environ.get("OMP_NUM_THREADS")
    reused = sum(reuse for _, reuse in runs.values())
    timing = (
        f"Training: {sum(seconds.values()) / 60:.1f} min for the {len(runs)} runs on"
        f" {os.cpu_count()} CPU cores"
        + (f" (OMP_NUM_THREADS={threads})" if threads else "")
        + f"; the whole command: {(time.perf_counter() - start) / 60:.1f} min."
    )
    if reused:  # reuse needs the same command and data: the results are the command's
        timing += (
            f" ({reused} of the runs were reused from an earlier identical command with"
            " `--reuse-runs`; their minutes are those recorded then.)"
        )
    command = ["python", "tools/reproduce_ablation.py", *(a for a in argv if a != "--reuse-runs")]
    study = Study(
        seeds=args.seeds,
        overrides=args.override,
        num_train=args.num_train,
        num_val=args.num_val,
        size=args.size,
        data_seed=args.data_seed,
        num_visuals=args.num_visuals,
        default_budget=args.default_budget,
    )
    write_report(
        os.path.join(args.output, "ablation.md"),
        study,
        run_config("known_ddc", args),
        metrics,
        per_seed,
        seconds,
        timing,
        shlex.join(command),
        analyses=analyses,
    )
    for name, values in metrics.items():
        print(f"{name:>15}: " + "  ".join(f"{k} {values[k]:.4g}" for k in BENCHMARK_KEYS))
    print(
        f"wrote {os.path.join(args.output, 'ablation.md')} and its figures in "
        f"{(time.perf_counter() - start) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
