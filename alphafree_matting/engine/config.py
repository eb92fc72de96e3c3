"""Command-line ``key=value`` overrides of a LazyConfig, with replace semantics for dicts.

detectron2's ``LazyConfig.apply_overrides`` merges a dict value into the node it overrides
(``'model.criterion.losses={known:1.0}'`` would keep ``ddc``); here the node becomes the value
the user typed. ``model.criterion.losses.ddc=0`` still changes one entry.
"""

from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf

__all__ = ["apply_overrides"]


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """Apply hydra-syntax ``key=value`` overrides to ``cfg`` in place; returns ``cfg``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if override.is_delete():
            raise ValueError(f"override '~{key}': deleting config keys is not supported")
        parts = key.split(".")
        for end in range(1, len(parts)):
            prefix = ".".join(parts[:end])
            node = OmegaConf.select(cfg, prefix, default=None)
            if node is None:
                break
            if not OmegaConf.is_config(node):
                raise KeyError(
                    f"override {key}: {prefix} is a {type(node).__name__}, not a config node"
                )
        OmegaConf.update(cfg, key, override.value(), merge=False)
    return cfg
