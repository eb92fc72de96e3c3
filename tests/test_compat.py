"""What the plugin relies on in detectron2 / fvcore, pinned on the installed version (0.6 or
main): a detectron2 release that changes it fails here, not in a user's run."""

import subprocess
import sys

import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.utils import comm
from torch import nn

from alphafree_matting import compat


def saved_checkpoint(tmp_path):
    model = nn.Linear(3, 2)
    checkpointer = DetectionCheckpointer(model, str(tmp_path))
    checkpointer.save("model_0000004", iteration=4)
    return model, checkpointer, str(tmp_path / "model_0000004.pth")


def test_reading_outside_load_gives_what_load_reads(tmp_path, monkeypatch):
    model, checkpointer, path = saved_checkpoint(tmp_path)
    read_by_load = {}
    original = DetectionCheckpointer._load_file

    def spy(self, filename):
        data = original(self, filename)
        read_by_load[filename] = dict(data)  # load() pops entries off what it reads
        return data

    monkeypatch.setattr(DetectionCheckpointer, "_load_file", spy)
    checkpointer.load(path)
    monkeypatch.undo()
    # load() reads the file through _load_file exactly once, with the local path: the plugin's
    # AtomicCheckpointer hands back a file it already read there.
    assert list(read_by_load) == [path]
    outside = compat.read_checkpoint_file(
        checkpointer, path
    )  # no assertion about being inside load
    assert outside.keys() == read_by_load[path].keys() == {"model", "iteration"}
    assert outside["iteration"] == 4
    for key, value in model.state_dict().items():
        assert torch.equal(outside["model"][key], value)


def test_a_checkpoint_without_a_model_key_is_wrapped_as_detectron2_does(tmp_path):
    _, checkpointer, _ = saved_checkpoint(tmp_path)
    bare = tmp_path / "bare.pth"
    torch.save({"weight": torch.ones(2)}, bare)
    assert torch.equal(
        compat.read_checkpoint_file(checkpointer, str(bare))["model"]["weight"], torch.ones(2)
    )


def test_importing_detectron2_after_the_plugin_prints_no_future_warning():
    code = "import alphafree_matting, detectron2.engine, detectron2.modeling, fvcore.nn"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "FutureWarning" not in result.stderr, result.stderr


def test_the_local_process_group_reaches_detectron2s_comm(monkeypatch):
    """Upstream: comm.create_local_process_group. 0.6: the one private name the plugin writes,
    comm._LOCAL_PROCESS_GROUP, which detectron2's own helpers read."""
    if hasattr(comm, "create_local_process_group"):
        created = []
        monkeypatch.setattr(comm, "create_local_process_group", created.append)
        compat.create_local_process_group(4)
        assert created == [4]
        return
    assert hasattr(comm, "_LOCAL_PROCESS_GROUP"), "detectron2 0.6's comm._LOCAL_PROCESS_GROUP"
    monkeypatch.setattr(comm, "_LOCAL_PROCESS_GROUP", None)
    groups = []  # rank 5 of 8, 4 processes per machine: machine 1, ranks 4..7
    monkeypatch.setattr(compat.dist, "get_world_size", lambda group=None: 8)
    monkeypatch.setattr(compat.dist, "get_rank", lambda group=None: 5)
    monkeypatch.setattr(compat.dist, "new_group", lambda ranks: groups.append(ranks) or ranks)
    compat.create_local_process_group(4)
    assert groups == [[0, 1, 2, 3], [4, 5, 6, 7]] and comm._LOCAL_PROCESS_GROUP == [4, 5, 6, 7]
    asked = []  # detectron2's get_local_size() asks torch for the size of that group
    monkeypatch.setattr(comm.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(comm.dist, "get_world_size", lambda group=None: asked.append(group) or 4)
    assert comm.get_local_size() == 4 and asked == [[4, 5, 6, 7]]
    with pytest.raises(RuntimeError, match="already set"):
        compat.create_local_process_group(4)


def test_after_backward_runs_where_the_trainer_has_it():
    calls = []

    class Upstream:
        def after_backward(self):
            calls.append("after_backward")

    compat.call_after_backward(Upstream())
    compat.call_after_backward(object())  # detectron2 0.6: no callback, nothing to run
    assert calls == ["after_backward"]
