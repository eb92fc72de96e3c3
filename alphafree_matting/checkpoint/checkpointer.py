"""A detectron2 checkpointer whose files are never partial.

detectron2 (through fvcore) writes ``model_XXXXXXX.pth`` and the ``last_checkpoint`` tag in place.
A process killed while writing (SIGKILL, out-of-memory killer, pre-emption) can leave a truncated
checkpoint, or an empty tag that makes ``--resume`` fail. Here every file is written to a
temporary name in the same folder, flushed to disk, and moved into place with ``os.replace``,
which is atomic on POSIX and Windows: a reader sees the old file or the new one, never half of one.
"""

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from detectron2.checkpoint import DetectionCheckpointer

__all__ = ["AtomicCheckpointer", "atomic_write"]

logger = logging.getLogger(__name__)


@contextmanager
def atomic_write(path: str, mode: str = "wb") -> Iterator[Any]:
    """Open ``path + ".tmp"`` for writing; on success fsync it and rename it to ``path``."""
    tmp_path = f"{path}.tmp"
    try:
        with open(tmp_path, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


class AtomicCheckpointer(DetectionCheckpointer):
    """:class:`DetectionCheckpointer` writing checkpoints and the last-checkpoint tag atomically.

    Same constructor and behaviour otherwise (loading, ``resume_or_load``, periodic saving).
    """

    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        data.update({key: obj.state_dict() for key, obj in self.checkpointables.items()})
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        logger.info("Saving checkpoint to %s", save_file)
        with atomic_write(save_file, "wb") as f:
            torch.save(data, f)
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        with atomic_write(os.path.join(self.save_dir, "last_checkpoint"), "w") as f:
            f.write(last_filename_basename)
