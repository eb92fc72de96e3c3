"""Telling a user's mistake from a bug, for the command-line tools.

A tool reports a user's mistake (a missing file, a bad option, a checkpoint of another model) as
one line that says what to do. A bug must keep its traceback, or it reads like a user's mistake
and cannot be found. The rule: an error is the user's when its type is one the plugin raises on
purpose for bad input (:data:`USER_ERROR_TYPES`) and the plugin or a tool raised it (the last
frame of its traceback is in ``alphafree_matting``, ``tools`` or ``projects``); an error raised
deep inside torch, numpy or another library, or of any other type, is reported as a bug.
"""

import os
import traceback

__all__ = ["USER_ERROR_TYPES", "describe_error", "is_user_error"]

USER_ERROR_TYPES = (ValueError, KeyError, OSError, ImportError, RuntimeError)
"""Types of the errors the plugin raises on purpose for bad input (its own error classes
derive from them: MattingDataError, CheckpointLoadError, ConfigKeyError, ...)."""

_REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_OWN_CODE = tuple(
    os.path.join(_REPOSITORY, folder) + os.sep
    for folder in ("alphafree_matting", "tools", "projects")
)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is a user's mistake reported on purpose (see the module docstring)."""
    if not isinstance(error, USER_ERROR_TYPES):
        return False
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return True  # raised and caught in one frame: nothing deeper raised it
    return os.path.abspath(frames[-1].filename).startswith(_OWN_CODE)


def describe_error(error: BaseException, *, debug: bool = False) -> str:
    """One line for a user's mistake (``Type: message``); the whole traceback for a bug, or
    for anything with ``debug`` (the tools' ``--debug``)."""
    if debug or not is_user_error(error):
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        hint = "" if debug else "This looks like a bug: please report it with this traceback.\n"
        return text.rstrip() + "\n" + hint
    return f"{type(error).__name__}: {error}"
