"""A detectron2 checkpointer whose files are never partial, and that resumes past a damaged one.

detectron2 (through fvcore) writes ``model_XXXXXXX.pth`` and the ``last_checkpoint`` tag in place.
A process killed while writing (SIGKILL, out-of-memory killer, pre-emption) can leave a truncated
checkpoint, or an empty tag that makes ``--resume`` fail. Here every file is written to a
temporary name of its own writer (host, pid, random part) in the same folder, flushed to disk,
and moved into place with ``os.replace``, which is atomic on POSIX and Windows: a reader sees the
old file or the new one, never half of one, and two writers never share a temporary file.

A checkpoint damaged after it was written (disk error, a copy cut short) does not stop
``--resume``: the newest intact checkpoint of the folder is used, with a warning naming both.
:class:`PruningPeriodicCheckpointer` counts the checkpoints already in the folder towards
``max_to_keep`` when a run resumes.
"""

import errno
import logging
import os
import pickle
import re
import secrets
import shutil
import socket
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.engine import hooks

from ..compat import read_checkpoint_file

__all__ = ["AtomicCheckpointer", "CheckpointSaveError", "DamagedCheckpointError"]
__all__ += ["PruningPeriodicCheckpointer", "atomic_write"]

logger = logging.getLogger(__name__)


class DamagedCheckpointError(RuntimeError):
    """No checkpoint of a folder can be read to resume from; the message names the files."""


class CheckpointSaveError(OSError):
    """A checkpoint could not be written because its disk is full; the message names the file,
    the free space and the way on. The earlier checkpoints are intact."""


_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _out_of_space(error: BaseException) -> bool:
    """Whether ``error`` or an error it was raised from is "no space left" / "quota exceeded"
    (torch.save reports a failed write as a RuntimeError of its own, raised from the OSError)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in _NO_SPACE:
            return True
        error = error.__cause__ or error.__context__
    return False


def _size_text(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _temporary_path(path: str) -> str:
    return f"{path}.{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}.tmp"


def _remove_stale_temporaries(path: str) -> None:
    """Remove temporary files of ``path`` left by dead processes of this host (killed saves)."""
    folder, host = os.path.dirname(path) or ".", socket.gethostname()
    pattern = re.compile(re.escape(os.path.basename(path)) + r"\.(.+)-(\d+)-[0-9a-f]{8}\.tmp")
    for name in os.listdir(folder):
        match = pattern.fullmatch(name)
        if match is None or match[1] != host:
            continue
        try:
            os.kill(int(match[2]), 0)
        except ProcessLookupError:
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass
        except PermissionError:
            pass


@contextmanager
def atomic_write(path: str, mode: str = "wb") -> Iterator[Any]:
    """Open a temporary file of this writer next to ``path``; on success fsync it and rename it
    to ``path``. Temporary files of the same target left by dead processes are removed."""
    tmp_path = _temporary_path(path)
    try:
        with open(tmp_path, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
        _remove_stale_temporaries(path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


_DAMAGE = (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile)


def _is_damage(error: Exception) -> bool:
    """Whether a loading error means a damaged file (not a file torch refuses to unpickle)."""
    return isinstance(error, _DAMAGE) and "Weights only load failed" not in str(error)


class AtomicCheckpointer(DetectionCheckpointer):
    """:class:`DetectionCheckpointer` writing checkpoints and the last-checkpoint tag atomically.

    Same constructor and behaviour otherwise (loading, ``resume_or_load``, periodic saving),
    except that resuming skips a damaged or missing last checkpoint for the newest intact one.
    """

    _verified: Optional[tuple[str, dict]] = None  # a file read while looking for an intact one

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        logger.info("Saving checkpoint to %s", save_file)
        try:
            with atomic_write(save_file, "wb") as f:
                torch.save(data, f)
            self.tag_last_checkpoint(basename)
        except Exception as error:
            if not _out_of_space(error):
                raise
            raise CheckpointSaveError(self._disk_full_message(save_file)) from None

    def _disk_full_message(self, save_file: str) -> str:
        free = _size_text(shutil.disk_usage(self.save_dir).free)
        last = self.get_checkpoint_file() if self.has_checkpoint() else None
        kept = f"the last complete one, {last}, is intact" if last else "none was saved before"
        return (
            f"cannot save checkpoint {save_file}: the disk is full ({free} free in "
            f"{self.save_dir}). Earlier checkpoints are not touched ({kept}). Free space, then "
            "continue with the same command and --resume."
        )

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        with atomic_write(os.path.join(self.save_dir, "last_checkpoint"), "w") as f:
            f.write(last_filename_basename)

    def _load_file(self, filename: str) -> dict:
        if self._verified is not None and self._verified[0] == filename:
            data, self._verified = self._verified[1], None
            return data
        return super()._load_file(filename)

    def resume_or_load(self, path: str, *, resume: bool = True) -> dict:
        if not (resume and self.has_checkpoint()):
            return super().resume_or_load(path, resume=resume)
        return self.load(self.intact_checkpoint())

    def intact_checkpoint(self) -> str:
        """The checkpoint to resume from: the tagged last one, or if it cannot be read, the
        newest other ``.pth`` file of the folder that can (by modification time).

        Raises:
            DamagedCheckpointError: no checkpoint of the folder can be read.
        """
        tagged = self.get_checkpoint_file()
        others = [f for f in self.get_all_checkpoint_files() if f != tagged]
        others.sort(key=lambda f: (os.path.getmtime(f), f), reverse=True)
        failures = []
        for candidate in [tagged, *others]:
            try:
                self._verified = (candidate, read_checkpoint_file(self, candidate))
            except Exception as error:
                if not _is_damage(error):
                    raise
                failures.append(f"{candidate} ({type(error).__name__}: {error})")
                continue
            if failures:
                logger.warning(
                    "Cannot resume from the last checkpoint %s; resuming from %s, the newest "
                    "intact checkpoint, instead. Unreadable: %s",
                    tagged,
                    candidate,
                    "; ".join(failures),
                )
            return candidate
        raise DamagedCheckpointError(
            f"cannot resume from {self.save_dir}: no checkpoint there can be read: "
            + "; ".join(failures)
            + ". Delete the damaged files and run without --resume to start again, or start "
            "from other weights with train.init_checkpoint=... (without --resume)."
        )


def _periodic_iteration(path: str, prefix: str) -> Optional[int]:
    match = re.fullmatch(rf"{re.escape(prefix)}_(\d{{7}})\.pth", os.path.basename(path))
    return None if match is None else int(match.group(1))


class PruningPeriodicCheckpointer(hooks.PeriodicCheckpointer):
    """detectron2's ``PeriodicCheckpointer`` hook whose ``max_to_keep`` counts the periodic
    checkpoints already in the folder when a run resumes (detectron2 counts only the files it
    saved itself, so files from before a resume are never deleted).

    Checkpoints of iterations before the resumed one are counted, oldest deleted first;
    ``<prefix>_final.pth`` is never deleted. A run starting at iteration 0 counts nothing old.
    """

    def before_train(self):
        super().before_train()
        start = self.trainer.start_iter
        if self.max_to_keep is None or start == 0:
            return
        earlier = []
        for path in self.checkpointer.get_all_checkpoint_files():
            iteration = _periodic_iteration(path, self.file_prefix)
            if iteration is not None and iteration < start:
                earlier.append((iteration, path))
        self.recent_checkpoints = [path for _, path in sorted(earlier)]

    def step(self, iteration: int, **kwargs: Any) -> None:
        super().step(iteration, **kwargs)
        while self.max_to_keep is not None and len(self.recent_checkpoints) > self.max_to_keep:
            oldest = self.recent_checkpoints.pop(0)
            if os.path.exists(oldest) and _periodic_iteration(oldest, self.file_prefix) is not None:
                os.remove(oldest)
