"""Smoke test of tools/benchmark_inference.py (the full-size benchmark is not a test)."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_smoke_prints_times_memory_and_agreeing_alphas_of_both_paths():
    tool = str(REPO / "tools" / "benchmark_inference.py")
    command = [sys.executable, tool, "--sizes", "96", "--repeats", "1", "--threads", "1"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout
    cells = r"([\d.]+) s \| ([\d.]+) s \| ([\d.]+)x \| (\d+) MiB \| (\d+) MiB \| ([\d.e+-]+)"
    row = re.search(r"\| 96² \| " + cells + r" \|", output)
    assert row, output
    assert float(row.group(6)) <= 1e-5
    assert "peak RSS (VmHWM) growth, fresh process" in output
    assert "alphas agree to 1e-05" in output
