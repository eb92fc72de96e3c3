"""Registration of a matting split in detectron2's catalogs, with an error that says what to do
when the name is taken."""

from typing import Callable

from detectron2.data import DatasetCatalog, MetadataCatalog

__all__ = ["register_split"]


def register_split(name: str, load: Callable[[], list[dict]], **metadata) -> None:
    """Register ``load`` (returns the dataset dicts) lazily as split ``name``, with
    ``evaluator_type="matting"`` and ``metadata`` in its ``MetadataCatalog`` entry.

    Raises:
        ValueError: ``name`` is already registered.
    """
    if name in DatasetCatalog.list():
        raise ValueError(
            f"dataset {name!r} is already registered: pick another name, or "
            f"DatasetCatalog.remove({name!r}) and MetadataCatalog.remove({name!r}) first. "
            "(In a config, give the data as a node instead, e.g. dataloader.train.dataset = "
            "L(load_matting_folder)(root=...): a config is loaded more than once per run.)"
        )
    DatasetCatalog.register(name, load)
    MetadataCatalog.get(name).set(evaluator_type="matting", **metadata)
