"""One run per output folder: a lock file holding the owner's pid and host.

Two runs writing one folder interleave ``metrics.json`` and ``log.txt`` and overwrite each
other's checkpoints. :func:`output_folder_lock` creates ``<folder>/run.lock`` exclusively
(``O_EXCL``) for the duration of a run. A second run fails at start with a message naming the
folder and the owner. A lock left by a process that no longer runs (killed, crashed machine) is
taken over with a warning, so ``--resume`` after a crash needs no manual step. The liveness of an
owner on another host cannot be checked: such a lock must be removed by hand.
"""

import json
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Optional

__all__ = ["LOCK_FILE", "OutputFolderLockedError", "output_folder_lock", "read_lock_owner"]

logger = logging.getLogger(__name__)

LOCK_FILE = "run.lock"
_READ_RETRIES = 10  # a lock just created may not hold its owner yet: re-read for ~1 s


class OutputFolderLockedError(RuntimeError):
    """Another run owns the output folder."""


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def read_lock_owner(path: str) -> Optional[dict]:
    """The owner recorded in a lock file (``pid``, ``host``, ``started``, ``command``,
    ``token``); None when the file is gone or does not hold a complete record."""
    for _ in range(_READ_RETRIES):
        try:
            with open(path) as f:
                owner = json.load(f)
            if isinstance(owner, dict) and {"pid", "host"} <= set(owner):
                return owner
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return None


def _owner_text(owner: dict) -> str:
    started = owner.get("started")
    since = f", started {started}" if started else ""
    command = f", command: {owner['command']}" if owner.get("command") else ""
    return f"pid {owner['pid']} on host {owner['host']}{since}{command}"


def _create(path: str, record: dict) -> bool:
    """Create the lock file holding ``record``; False if it exists."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    return True


def _take_over_if_stale(path: str, folder: str) -> None:
    """Remove the lock of an owner that no longer runs; raise if the owner may be running."""
    owner = read_lock_owner(path)
    host = socket.gethostname()
    if owner is not None and (owner["host"] != host or _process_exists(int(owner["pid"]))):
        raise OutputFolderLockedError(
            f"output folder {folder} is in use by another run ({_owner_text(owner)}). Give this "
            "run its own folder (train.output_dir=...), or wait for that run to end. If it is "
            f"no longer running, delete {path}."
        )
    stale = f"{path}.stale-{os.getpid()}"
    try:
        os.rename(path, stale)  # atomic: of two runs taking over, one wins
    except FileNotFoundError:
        return
    moved = read_lock_owner(stale)
    if owner is not None and moved is not None and moved.get("token") != owner.get("token"):
        os.rename(stale, path)  # another run took it over first: its lock is live, put it back
        return
    os.remove(stale)
    what = _owner_text(owner) if owner is not None else "an unreadable record"
    logger.warning(
        "Took over the lock of output folder %s: its owner (%s) no longer runs.", folder, what
    )


@contextmanager
def output_folder_lock(folder: str) -> Iterator[dict]:
    """Own ``folder`` (created if needed) for the duration of the ``with`` block.

    Yields:
        the record written to ``<folder>/run.lock``.

    Raises:
        OutputFolderLockedError: another live process owns the folder (the message names it).
    """
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join(sys.argv),
        "token": uuid.uuid4().hex,
    }
    while not _create(path, record):
        _take_over_if_stale(path, folder)
    try:
        yield record
    finally:
        owner = read_lock_owner(path)
        if owner is not None and owner.get("token") == record["token"]:
            os.remove(path)
