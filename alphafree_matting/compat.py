"""Every place the plugin depends on a detectron2 (or fvcore) version, in one module.

The plugin runs on detectron2 0.6 (the registry's Python sources, what ``make`` installs) and on
upstream main (what GPU users build). Each shim below says which version needs it and what
replaces it once that version is no longer supported; ``tests/test_compat.py`` pins the
behaviour each relies on, so a detectron2 release that changes it fails a test, not a run.

Import this module before detectron2 in tools: it also silences a warning that detectron2's
imports raise on current torch (see :func:`silence_import_warnings`).
"""

import logging
import warnings
from typing import Any

__all__ = ["read_checkpoint_file", "silence_import_warnings"]

_JIT_SCRIPT_DEPRECATION = r"`torch\.jit\.script` is deprecated"


def silence_import_warnings() -> None:
    """Hide the FutureWarning that current torch (2.14) gives for ``torch.jit.script``, which
    fvcore 0.1.5 (pinned by detectron2 0.6 and main) calls when ``fvcore.nn`` is imported.
    Nothing in the plugin scripts a function. Goes when fvcore stops scripting at import.

    Also quiets torch's "No CUDA runtime is found" warning, which detectron2's environment
    report (``collect_env_info``, logged at the start of every run) raises on machines without
    CUDA by importing ``torch.utils.cpp_extension``; nothing here builds an extension."""
    warnings.filterwarnings("ignore", message=_JIT_SCRIPT_DEPRECATION, category=FutureWarning)
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)


silence_import_warnings()


def read_checkpoint_file(checkpointer: Any, path: str) -> dict:
    """Read a ``.pth`` checkpoint written by a ``DetectionCheckpointer``, outside ``load()``.

    Upstream detectron2 after 0.6 asserts that ``DetectionCheckpointer._load_file`` is called
    inside ``load()`` (it reads URL query options set there); 0.6 has no such check. For a local
    ``.pth`` file both versions end in fvcore's ``Checkpointer._load_file`` (``torch.load`` to
    the CPU) and add a ``"model"`` key when the file has none: that is done here. Replace with a
    public read once detectron2 offers one.
    """
    from fvcore.common.checkpoint import Checkpointer

    data = Checkpointer._load_file(checkpointer, path)
    return data if "model" in data else {"model": data}
