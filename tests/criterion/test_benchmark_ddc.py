"""Smoke test of tools/benchmark_ddc.py (the full-size benchmark is not a test)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_benchmark_smoke_prints_times_memory_ratios_and_agreeing_losses():
    tool = str(REPO / "tools" / "benchmark_ddc.py")
    arguments = "--batch 1 --size 24 --window 5 --repeats 1 --implementations reference fast"
    command = [sys.executable, tool, *arguments.split()]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "batch=1 size=24x24 window=5 k=5" in output
    rows = {}
    for line in output.splitlines():
        match = re.match(r"(reference|fast)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", line)
        if match:
            rows[match.group(1)] = [float(value) for value in match.groups()[1:]]
    assert set(rows) == {"reference", "fast"}
    assert all(seconds > 0 for seconds, _, _ in rows.values())
    assert rows["fast"][2] == pytest.approx(rows["reference"][2], rel=1e-5)
    assert re.search(r"reference / fast: [\d.]+x time, [\d.]+x extra memory", output)
    assert "loss values agree" in output
