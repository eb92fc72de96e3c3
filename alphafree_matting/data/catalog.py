"""Registration of matting splits that a config file may repeat (a run loads its config more than
once): the same name with the same arguments is a no-op, with others an error naming both.
"""

from typing import Any, Callable

from detectron2.data import DatasetCatalog, MetadataCatalog

__all__ = ["register_split"]

_ARGUMENTS: dict[str, str] = {}
"""Registered name -> repr of the arguments it was registered with (by :func:`register_split`)."""


def register_split(
    name: str, load: Callable[[], list[dict]], arguments: dict[str, Any], **metadata
) -> None:
    """Register ``load`` (returns the dataset dicts) lazily as split ``name``, with
    ``evaluator_type="matting"`` and ``metadata``; a repeat with equal ``arguments`` (paths,
    options) is accepted."""
    signature = repr(sorted({**arguments, **metadata}.items()))
    if name in DatasetCatalog.list():
        if _ARGUMENTS.get(name) == signature:
            return
        previous = _ARGUMENTS.get(name, "by other code")
        raise ValueError(
            f"dataset {name!r} is already registered ({previous}); registering it again with "
            f"{signature}: pick another name, or DatasetCatalog.remove({name!r}) and "
            f"MetadataCatalog.remove({name!r}) first"
        )
    DatasetCatalog.register(name, load)
    MetadataCatalog.get(name).set(evaluator_type="matting", **metadata)
    _ARGUMENTS[name] = signature
