"""Small helpers of the tools (benchmarks)."""

from .memory import PeakMemory

__all__ = ["PeakMemory"]
