"""alphafree_matting.utils.PeakMemory: the growth of a CPU allocation is seen, and only it (in a
fresh process, as the benchmarks measure: a long-lived one may reuse resident freed memory)."""

import json
import subprocess
import sys

import pytest

MEASURE = """
import json
import numpy as np
from alphafree_matting.utils import PeakMemory

meter = PeakMemory("cpu")
meter.reset()
block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
del block
grown = meter.extra_bytes()
meter.reset()  # the peak starts again from the current RSS
print(json.dumps({"method": meter.method, "grown": grown, "after_reset": meter.extra_bytes()}))
"""


def test_peak_memory_sees_a_transient_allocation_after_its_reset():
    output = subprocess.run(
        [sys.executable, "-c", MEASURE], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    if result["method"].startswith("unavailable"):
        pytest.skip("no /proc on this system")
    assert result["grown"] >= 48 * 2**20
    if "VmHWM" in result["method"]:  # (ru_maxrss cannot be reset)
        assert result["after_reset"] < 48 * 2**20
