"""What the plugin relies on in detectron2 / fvcore, pinned on the installed version (0.6 or
main): a detectron2 release that changes it fails here, not in a user's run."""

import subprocess
import sys

from alphafree_matting.compat import read_checkpoint_file

import torch
from detectron2.checkpoint import DetectionCheckpointer
from torch import nn


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
    outside = read_checkpoint_file(checkpointer, path)  # no assertion about being inside load
    assert outside.keys() == read_by_load[path].keys() == {"model", "iteration"}
    assert outside["iteration"] == 4
    for key, value in model.state_dict().items():
        assert torch.equal(outside["model"][key], value)


def test_a_checkpoint_without_a_model_key_is_wrapped_as_detectron2_does(tmp_path):
    _, checkpointer, _ = saved_checkpoint(tmp_path)
    bare = tmp_path / "bare.pth"
    torch.save({"weight": torch.ones(2)}, bare)
    assert torch.equal(
        read_checkpoint_file(checkpointer, str(bare))["model"]["weight"], torch.ones(2)
    )


def test_importing_detectron2_after_the_plugin_prints_no_future_warning():
    code = "import alphafree_matting, detectron2.engine, detectron2.modeling, fvcore.nn"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "FutureWarning" not in result.stderr, result.stderr
