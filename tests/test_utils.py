"""alphafree_matting.utils.PeakMemory: the growth of a CPU allocation is seen, and only it."""

import numpy as np
import pytest

from alphafree_matting.utils import PeakMemory


def test_peak_memory_sees_a_transient_allocation_after_its_reset():
    meter = PeakMemory("cpu")
    meter.reset()
    if meter.method.startswith("unavailable"):
        pytest.skip("no /proc on this system")
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    del block
    assert meter.extra_bytes() >= 48 * 2**20
    if "VmHWM" in meter.method:  # (ru_maxrss cannot be reset: a fresh process per measurement)
        meter.reset()  # the peak starts again from the current RSS
        assert meter.extra_bytes() < 48 * 2**20
