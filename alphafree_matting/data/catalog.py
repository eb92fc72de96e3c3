"""Registration of matting splits in detectron2's ``DatasetCatalog`` / ``MetadataCatalog`` that a
config file may repeat.

A LazyConfig file that registers its own split runs once per load, and a run loads its config more
than once (the launcher's preflight check, then the training process). detectron2's catalogs
refuse a second registration of a name; here the same name with the same arguments is a no-op,
and with other arguments an error naming both.
"""

from typing import Any, Callable

from detectron2.data import DatasetCatalog, MetadataCatalog

__all__ = ["register_split"]

_ARGUMENTS: dict[str, str] = {}
"""Registered name -> repr of the arguments it was registered with (by :func:`register_split`)."""


def register_split(
    name: str, load: Callable[[], list[dict]], arguments: dict[str, Any], **metadata
) -> None:
    """Register ``load`` as the split ``name`` (lazily) with ``evaluator_type="matting"`` metadata.

    Args:
        name: the dataset name.
        load: returns the split's dataset dicts (called at the first ``DatasetCatalog.get``).
        arguments: what defines the split (paths, options): a repeated registration of ``name``
            is accepted when they are equal.
        metadata: ``MetadataCatalog`` fields.
    """
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
