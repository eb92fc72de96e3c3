#!/usr/bin/env python
"""Benchmark a training step (forward, losses, backward, AdamW step) of a config's model, this
tree against a git ref, measured alternately in one run.

    python tools/benchmark_train_step.py --baseline HEAD~3 [--cases demo vit_s] [--rounds 3]

Cases: ``demo`` is ``configs/demo_ddc.py``'s model on a batch of 8 synthetic 96 px crops (its
training crop); ``vit_s`` is ``configs/am2k_ddc.py``'s ViTMatte-S (random weights) on 2 synthetic
512 px crops. Each round runs one fresh process per tree (the ref's ``alphafree_matting`` and
``configs`` extracted with ``git archive``) that times ``--steps`` steps after one warm-up step;
the table shows the median step time per tree and the ratio.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = {
    "demo": ("configs/demo_ddc.py", 8, 96),
    "vit_s": ("configs/am2k_ddc.py", 2, 512),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="git ref to compare with (default: this tree only)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--rounds", type=int, default=3, help="processes per tree and case")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per process")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--worker", choices=CASES, help=argparse.SUPPRESS)
    parser.add_argument("--root", default=REPO, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- worker: imports the package of --root (PYTHONPATH), prints one JSON line -----------------
def synthetic_batch(batch: int, size: int) -> list[dict]:
    """Training dicts of the model input contract from the synthetic composites."""
    import torch

    from alphafree_matting.conventions import trimap_to_target
    from alphafree_matting.data.synthetic import make_sample

    items = []
    for index in range(batch):
        sample = make_sample(index, size, seed=0)
        image = torch.from_numpy(sample["image"]).permute(2, 0, 1).float() / 255
        trimap = torch.from_numpy(trimap_to_target(sample["trimap"]))[None]
        items.append({"image": image, "trimap": trimap, "valid": torch.ones_like(trimap).bool()})
    return items


def run_worker(case: str, root: str, steps: int) -> dict:
    import torch
    from detectron2.config import LazyConfig, instantiate

    config, batch, size = CASES[case]
    torch.manual_seed(0)
    model = instantiate(LazyConfig.load(os.path.join(root, config)).model).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    inputs = synthetic_batch(batch, size)
    times = []
    for step in range(steps + 1):  # the first step warms up and is not timed
        start = time.perf_counter()
        losses = model(inputs)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        if step:
            times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times)}


# --- driver -------------------------------------------------------------------------------
def extract(ref: str, folder: str) -> str:
    """``alphafree_matting/`` and ``configs/`` of git ``ref`` under ``folder``."""
    archive = os.path.join(folder, "baseline.tar")
    subprocess.run(
        ["git", "archive", "--output", archive, ref, "alphafree_matting", "configs"],
        cwd=REPO,
        check=True,
    )
    root = os.path.join(folder, "baseline")
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root


def measure(case: str, root: str, args: argparse.Namespace) -> float:
    command = [sys.executable, os.path.abspath(__file__), "--worker", case, "--root", root]
    command += ["--steps", str(args.steps)]
    env = dict(os.environ, PYTHONPATH=root)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=root)
    if result.returncode != 0:
        raise SystemExit(f"{case} in {root} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args.worker, args.root, args.steps)))
        return 0
    with tempfile.TemporaryDirectory() as folder:
        trees = {"this tree": REPO}
        if args.baseline:
            trees = {args.baseline: extract(args.baseline, folder), **trees}
        print(f"train step (forward + losses + backward + AdamW), {os.cpu_count()} CPU cores")
        header = "   ratio (ref / this tree)" if len(trees) > 1 else ""
        print(f"{'case':<8} " + " ".join(f"{name:>14}" for name in trees) + header)
        for case in args.cases:
            samples = {name: [] for name in trees}
            for _ in range(args.rounds):  # alternate the trees: load drifts hit both alike
                for name, root in trees.items():
                    samples[name].append(measure(case, root, args))
            medians = [statistics.median(samples[name]) for name in trees]
            ratio = f"   {medians[0] / medians[-1]:.2f}x" if len(medians) > 1 else ""
            print(f"{case:<8} " + " ".join(f"{m:>13.3f}s" for m in medians) + ratio)
    return 0


if __name__ == "__main__":
    sys.exit(main())
