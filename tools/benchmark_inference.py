#!/usr/bin/env python
"""Benchmark full-resolution inference: ViTMatte-S's plain path vs bounded inference.

For each image size, the evaluation forward (``model([{"image": ...}])``, batch 1, random
weights seeded, a random image) of the plain path (``bounded_inference=False``) and of bounded
inference (the default), reporting

* peak extra memory: CPU peak RSS growth (``VmHWM`` after a reset, minus the RSS once the model and
  the input exist), each case in a fresh process after a small warm-up forward; on CUDA
  ``torch.cuda.max_memory_allocated`` minus the memory allocated before the forward;
* time: median of ``--repeats`` forwards per path in ONE process, plain and bounded alternating
  (so machine load hits both alike); where the plain path does not fit, the bounded time of its
  memory run;
* max |difference| of the two alphas where the plain path fits (exit status 1 if > 1e-5).

The plain path is skipped where its estimated need (the (heads, N, N) attention bias, twice)
exceeds 80 % of the available memory, rather than driving the machine out of memory.

    python tools/benchmark_inference.py --sizes 1024 2048 4096 [--repeats 3] [--device cpu]
        [--memory-mb 1024] [--threads N]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODES = ("plain", "bounded")
MIB = 1024 * 1024
TOLERANCE = 1e-5
MODEL_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "common" / "model.py"
OUTPUT_GAIN = 30.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--repeats", type=int, default=3, help="timed forwards per path")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--memory-mb", type=float, default=None, help="inference_memory_mb")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=("memory", "time"), help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--alpha-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- worker: runs in a fresh process, prints one JSON line ------------------------------------
def build_model(args, device):
    """ViTMatte-S (configs/common/model.py), seeded random weights, eval mode."""
    import torch
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.load(str(MODEL_CONFIG))
    cfg.model.criterion = None
    if args.memory_mb is not None:
        cfg.model.inference_memory_mb = args.memory_mb
    torch.manual_seed(args.seed)
    model = instantiate(cfg.model)
    # Random weights predict ~0.5 everywhere: a steeper last layer spreads the alpha over [0, 1].
    with torch.no_grad():
        model.decoder.matting_head.matting_convs[-1].weight.mul_(OUTPUT_GAIN)
    return model.to(device).eval()


def run_worker(args) -> dict:
    import numpy as np
    import torch

    from alphafree_matting.utils import PeakMemory

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = build_model(args, device)
    (size,) = args.sizes
    image = torch.rand((3, size, size), generator=torch.Generator().manual_seed(args.seed))
    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def forward(mode, item):
        model.bounded_inference = mode == "bounded"
        synchronize()
        start = time.perf_counter()
        with torch.no_grad():
            (output,) = model([item])
        synchronize()
        return output["alpha"], time.perf_counter() - start

    modes = [args.mode] if args.worker == "memory" else list(MODES)
    for mode in modes:  # warm-up: one-off initialisation is not the path's memory or time
        forward(mode, {"image": image[:, :64, :64].clone()})
    result = {"size": size, "threads": torch.get_num_threads()}
    if args.worker == "memory":
        meter = PeakMemory(device)
        meter.reset()
        alpha, seconds = forward(args.mode, {"image": image})
        extra = meter.extra_bytes()
        np.save(args.alpha_file, alpha.cpu().numpy()[0])
        result.update(
            mode=args.mode, seconds=seconds, extra_bytes=extra, memory_method=meter.method
        )
    else:
        times = {mode: [] for mode in MODES}
        for _ in range(max(1, args.repeats)):
            for mode in MODES:
                times[mode].append(forward(mode, {"image": image})[1])
        result.update(all_seconds=times)
    return result


# --- driver ------------------------------------------------------------------------------------
def available_bytes(device: str) -> int:
    """MemAvailable of /proc/meminfo (CPU), or the free memory of the CUDA device."""
    if device == "cuda":
        import torch

        return torch.cuda.mem_get_info()[0]
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise OSError("MemAvailable not in /proc/meminfo")


def plain_need_bytes(size: int, heads: int = 6, patch: int = 16) -> int:
    """Estimated peak of the plain path: the (heads, N, N) float32 bias of a global block, twice
    (as measured: +12.9 GB at 2048^2)."""
    tokens = (size // patch) ** 2
    return 2 * heads * tokens * tokens * 4


def run_in_subprocess(args, worker: str, size: int, mode=None, alpha_file=None) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", worker]
    command += ["--sizes", str(size), "--repeats", str(args.repeats), "--device", args.device]
    command += ["--seed", str(args.seed)]
    for flag, value in (("threads", args.threads), ("memory-mb", args.memory_mb)):
        if value is not None:
            command += [f"--{flag}", str(value)]
    if mode is not None:
        command += ["--mode", mode, "--alpha-file", alpha_file]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr[-5000:])
        raise SystemExit(f"benchmark worker {worker} {mode or ''} at {size} failed")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def benchmark_size(args, size: int, folder: str) -> dict:
    """Memory (and alpha) of each path in a fresh process, then the alternating timing run."""
    import numpy as np

    row = {"size": size}
    need, available = plain_need_bytes(size), available_bytes(args.device)
    plain_fits = need < 0.8 * available
    if not plain_fits:
        row["plain_skipped"] = f"needs ~{need / 2**30:.0f} GiB, {available / 2**30:.0f} available"
    alphas = {}
    for mode in MODES if plain_fits else ("bounded",):
        alpha_file = os.path.join(folder, f"{mode}_{size}.npy")
        result = run_in_subprocess(args, "memory", size, mode, alpha_file)
        row[mode] = result
        alphas[mode] = np.load(alpha_file)
        print(
            f"  {size}: {mode} {result['seconds']:.1f} s, +{result['extra_bytes'] / MIB:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
    row["alpha_std"] = float(alphas["bounded"].std())
    if plain_fits:
        row["max_abs_diff"] = float(np.abs(alphas["plain"] - alphas["bounded"]).max())
        timing = run_in_subprocess(args, "time", size)
        for mode in MODES:
            row[mode]["timed"] = timing["all_seconds"][mode]
            row[mode]["seconds"] = statistics.median(timing["all_seconds"][mode])
    return row


def format_report(args, rows: list) -> tuple:
    first = rows[0]["bounded"]
    lines = [
        f"ViTMatte-S eval forward, batch 1, float32, random weights; device={args.device} "
        f"threads={first['threads']} inference_memory_mb={args.memory_mb or 'default'}",
        f"memory: {first['memory_method']}; time: median of {args.repeats} alternating "
        "plain/bounded forwards in one process (the memory run's time where plain is skipped)",
        "| image | plain time | bounded time | bounded / plain | plain extra memory "
        "| bounded extra memory | max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    exact = True
    for row in rows:
        bounded = row["bounded"]
        if "plain" in row:
            plain = row["plain"]
            ratio = f"{bounded['seconds'] / plain['seconds']:.2f}x"
            plain_cells = f"{plain['seconds']:.1f} s", f"{plain['extra_bytes'] / MIB:.0f} MiB"
            diff = f"{row['max_abs_diff']:.1e}"
            exact &= row["max_abs_diff"] <= TOLERANCE
        else:
            ratio, diff = "-", "-"
            plain_cells = "(not run)", f"does not fit ({row['plain_skipped']})"
        lines.append(
            f"| {row['size']}² | {plain_cells[0]} | {bounded['seconds']:.1f} s | {ratio} | "
            f"{plain_cells[1]} | {bounded['extra_bytes'] / MIB:.0f} MiB | {diff} |"
        )
    for row in rows:
        if "plain" in row:
            runs = {mode: " ".join(f"{t:.1f}" for t in row[mode]["timed"]) for mode in MODES}
            lines.append(
                f"{row['size']}² forwards [s]: plain {runs['plain']}; bounded {runs['bounded']}"
            )
    stds = ", ".join(f"{row['size']}: {row['alpha_std']:.3f}" for row in rows)
    lines.append(f"alpha std (the outputs compared are not flat): {stds}")
    lines.append(f"alphas {'agree' if exact else 'DIFFER'} to {TOLERANCE:g} where both ran")
    return "\n".join(lines), exact


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0
    with tempfile.TemporaryDirectory(prefix="benchmark_inference_") as folder:
        rows = [benchmark_size(args, size, folder) for size in args.sizes]
    report, exact = format_report(args, rows)
    print(report)
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
