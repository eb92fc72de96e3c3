"""Smoke test of tools/benchmark_train_step.py against a git ref (timings are not tested)."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_times_this_tree_and_a_git_ref_and_prints_the_ratio():
    command = [
        sys.executable,
        str(REPO / "tools" / "benchmark_train_step.py"),
        *("--baseline HEAD --cases demo --rounds 1 --steps 1".split()),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^demo\s+[\d.]+s\s+[\d.]+s\s+[\d.]+x$", result.stdout, re.M), result.stdout
