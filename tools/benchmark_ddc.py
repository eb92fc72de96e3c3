#!/usr/bin/env python
"""Benchmark the DDC loss: the unfold reference vs the fast implementation.

``reference`` (authors': unfold, torch.norm, topk), ``reference-sum-sqrt`` (distance written out)
and ``fast`` (``criterion.ddc_loss``), each in a fresh subprocess: forward + backward time (median
of ``--repeats``), peak extra memory (CPU: peak-RSS growth; CUDA: max_memory_allocated) and the
loss, which must agree to 1e-5 relative (else exit status 1).

    python tools/benchmark_ddc.py --batch 2 --size 512 --window 11 [--repeats 3] [--device cpu]
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

IMPLEMENTATIONS = ("reference", "reference-sum-sqrt", "fast")
MIB = 1024 * 1024


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=512, help="image height and width")
    parser.add_argument("--window", type=int, default=11)
    parser.add_argument("--k", type=int, default=None, help="neighbours (default: window)")
    parser.add_argument("--border", default="zeros", choices=("zeros", "exclude"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--implementations", nargs="+", default=list(IMPLEMENTATIONS), choices=IMPLEMENTATIONS
    )
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- worker: runs in a fresh process, prints one JSON line ------------------------------------
def _loss_function(name):
    from alphafree_matting.criterion import ddc_loss
    from alphafree_matting.criterion.ddc_reference import reference_ddc_loss

    if name == "fast":
        return ddc_loss
    norm = "torch" if name == "reference" else "sum_sqrt"
    return lambda image, alpha, **options: reference_ddc_loss(image, alpha, norm=norm, **options)


def run_worker(args) -> dict:
    import torch

    from alphafree_matting.utils import PeakMemory

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.batch, 1, args.size, args.size)
    image = torch.rand((args.batch, 3, args.size, args.size), generator=generator).to(device)
    alpha_init = torch.rand(shape, generator=generator).to(device)
    loss_function = _loss_function(args.worker)
    options = dict(window=args.window, k=args.k, border=args.border)

    def forward_backward(image=image, alpha_init=alpha_init):
        alpha = alpha_init.clone().requires_grad_(True)
        loss = loss_function(image, alpha, **options)
        loss.backward()
        return loss.item()

    # Warm up on a tiny input: one-off initialisation is not the implementation's memory.
    forward_backward(image[:1, :, :8, :8], alpha_init[:1, :, :8, :8])

    synchronize = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    meter = PeakMemory(device)
    meter.reset()
    loss = forward_backward()
    extra = meter.extra_bytes()

    times = []
    for _ in range(max(1, args.repeats)):
        synchronize()
        start = time.perf_counter()
        forward_backward()
        synchronize()
        times.append(time.perf_counter() - start)
    return {
        "implementation": args.worker,
        "loss": loss,
        "seconds": statistics.median(times),
        "all_seconds": times,
        "extra_bytes": extra,
        "memory_method": meter.method,
        "threads": torch.get_num_threads(),
    }


# --- driver ------------------------------------------------------------------------------------
def run_in_subprocess(args, implementation: str) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--worker", implementation]
    for flag in ("batch", "size", "window", "k", "border", "repeats", "device", "threads", "seed"):
        value = getattr(args, flag)
        if value is not None:
            command += [f"--{flag}", str(value)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"benchmark worker {implementation!r} failed")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def format_report(args, results: list) -> tuple:
    lines = [
        f"DDC loss forward+backward: batch={args.batch} size={args.size}x{args.size} "
        f"window={args.window} k={args.k or args.window} border={args.border} "
        f"device={args.device} threads={results[0]['threads']} repeats={args.repeats}",
        f"memory: {results[0]['memory_method']}",
        f"{'implementation':<20} {'time [s]':>10} {'extra memory [MiB]':>19} {'loss':>14}",
    ]
    for result in results:
        lines.append(
            f"{result['implementation']:<20} {result['seconds']:>10.3f} "
            f"{result['extra_bytes'] / MIB:>19.1f} {result['loss']:>14.8f}"
        )
    by_name = {result["implementation"]: result for result in results}
    fast = by_name.get("fast")
    agree = True
    for name in ("reference", "reference-sum-sqrt"):
        baseline = by_name.get(name)
        if fast is None or baseline is None:
            continue
        speedup = baseline["seconds"] / max(fast["seconds"], 1e-12)
        memory_ratio = baseline["extra_bytes"] / max(fast["extra_bytes"], 1)
        lines.append(f"{name} / fast: {speedup:.1f}x time, {memory_ratio:.1f}x extra memory")
        agree &= math.isclose(fast["loss"], baseline["loss"], rel_tol=1e-5, abs_tol=1e-7)
    losses = ", ".join(f"{result['loss']:.8f}" for result in results)
    lines.append(f"loss values {'agree' if agree else 'DISAGREE'} ({losses})")
    return "\n".join(lines), agree


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0
    results = [run_in_subprocess(args, name) for name in args.implementations]
    report, agree = format_report(args, results)
    print(report)
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
