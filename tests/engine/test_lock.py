"""The output-folder lock (alphafree_matting/engine/lock.py): one run per folder, stale locks of
dead processes taken over with a warning."""

import json
import logging
import os
import socket
import subprocess
import sys

import pytest

from alphafree_matting.engine.lock import (
    LOCK_FILE,
    OutputFolderLockedError,
    output_folder_lock,
    read_lock_owner,
)


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(folder, pid: int, host: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": host, "started": "2024-01-01 00:00:00", "token": "old"}
    (folder / LOCK_FILE).write_text(json.dumps(record))


def test_lock_records_the_owner_and_is_removed_at_the_end(tmp_path):
    folder = tmp_path / "run"
    with output_folder_lock(str(folder)) as record:
        owner = read_lock_owner(str(folder / LOCK_FILE))
        assert owner == record
        assert (owner["pid"], owner["host"]) == (os.getpid(), socket.gethostname())
    assert not (folder / LOCK_FILE).exists()


def test_a_second_run_fails_naming_the_folder_and_the_owner(tmp_path):
    with output_folder_lock(str(tmp_path)):
        with pytest.raises(OutputFolderLockedError) as error:
            with output_folder_lock(str(tmp_path)):
                pass
        message = str(error.value)
        assert f"output folder {tmp_path} is in use" in message
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in message
        assert (tmp_path / LOCK_FILE).exists()  # the failed attempt leaves the owner's lock


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path, caplog):
    pid = dead_pid()
    write_lock(tmp_path, pid, socket.gethostname())
    with caplog.at_level(logging.WARNING, logger="alphafree_matting.engine.lock"):
        with output_folder_lock(str(tmp_path)):
            assert read_lock_owner(str(tmp_path / LOCK_FILE))["pid"] == os.getpid()
    assert f"Took over the lock of output folder {tmp_path}" in caplog.text
    assert f"pid {pid}" in caplog.text and "no longer runs" in caplog.text


def test_a_lock_held_on_another_host_is_not_taken_over(tmp_path):
    write_lock(tmp_path, dead_pid(), "some-other-machine")
    expected = r"host some-other-machine.*delete .*run\.lock"
    with pytest.raises(OutputFolderLockedError, match=expected):
        with output_folder_lock(str(tmp_path)):
            pass


def test_an_unreadable_lock_is_stale(tmp_path, caplog):
    (tmp_path / LOCK_FILE).write_text("")  # a run killed between creating and writing it
    with caplog.at_level(logging.WARNING, logger="alphafree_matting.engine.lock"):
        with output_folder_lock(str(tmp_path)):
            pass
    assert "an unreadable record" in caplog.text
