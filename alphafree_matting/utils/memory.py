"""Peak memory growth of a piece of work, on the CPU (process RSS) or a CUDA device."""

import resource

import torch

__all__ = ["PeakMemory"]


def _status_bytes(field: str) -> int:
    """A memory field of /proc/self/status (Linux), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


class PeakMemory:
    """Peak extra memory since :meth:`reset`, in bytes.

    CUDA: ``max_memory_allocated`` minus what was allocated at the reset. CPU: the peak RSS
    (VmHWM, reset through ``/proc/self/clear_refs``, Linux >= 4.0) minus the RSS at the reset;
    where VmHWM cannot be reset, the process's ``ru_maxrss``, so measure in a fresh process.

    Example::

        meter = PeakMemory(device)
        meter.reset()
        work()
        extra = meter.extra_bytes()
    """

    def __init__(self, device: torch.device):
        self.device = torch.device(device)
        self.method = ""
        self._baseline = 0
        self._peak = lambda: 0

    def reset(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
            self._peak = lambda: torch.cuda.max_memory_allocated(self.device)
            self.method = "CUDA max_memory_allocated growth"
            return
        try:
            self._baseline = _status_bytes("VmRSS")
        except OSError:
            self.method, self._baseline, self._peak = "unavailable (no /proc)", 0, lambda: 0
            return
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # VmHWM := current RSS
            self._peak = lambda: _status_bytes("VmHWM")
            self.method = "peak RSS (VmHWM) growth, fresh process"
        except OSError:
            self._peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            self.method = "peak RSS (ru_maxrss) growth, fresh process"

    def extra_bytes(self) -> int:
        """Peak memory since :meth:`reset` above what was in use then (>= 0)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return max(0, self._peak() - self._baseline)
