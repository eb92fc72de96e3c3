"""Command-line ``key=value`` overrides of a LazyConfig, with replace semantics for dicts, and
checks that every config key means something.

detectron2's ``LazyConfig.apply_overrides`` merges a dict value into the node it overrides
(``'model.criterion.losses={known:1.0}'`` would keep ``ddc``); here the node becomes the value
the user typed. ``model.criterion.losses.ddc=0`` still changes one entry.

A key is valid when it exists in the loaded config, when it is an argument the ``_target_`` of
its LazyCall node accepts (``model.criterion.border=exclude`` where the config relies on the
default), when a schema lists it (:data:`TRAIN_KEYS`: what ``tools/lazyconfig_train_net.py`` and
detectron2 read from ``train``), or when it lies in a plain dict passed to a LazyCall (e.g. a
loss-weight dict, which its constructor checks). Anything else is a :class:`ConfigKeyError`
naming the key and its close matches, before anything is built.
"""

import difflib
import inspect
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Callable, Optional, Union

from detectron2.engine.hooks import PeriodicCheckpointer
from detectron2.utils.registry import locate
from omegaconf import DictConfig, ListConfig, OmegaConf
from torch.nn.parallel import DistributedDataParallel

__all__ = ["ConfigKeyError", "TRAIN_KEYS", "apply_overrides", "check_config"]

Schema = Mapping[str, Union[None, Collection[str], "Schema"]]
"""Allowed keys of a plain config node: a key maps to None (any value), to the collection of
keys its dict may hold, or to a nested schema."""


def _argument_names(target: Callable, skip: Sequence[str] = ()) -> frozenset:
    parameters = inspect.signature(target).parameters.values()
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(p.name for p in parameters if p.kind in kinds and p.name not in skip)


TRAIN_KEYS: Schema = {
    "output_dir": None,
    "init_checkpoint": None,
    "max_iter": None,
    "eval_period": None,
    "log_period": None,
    "device": None,
    "seed": None,  # detectron2's default_setup
    "cudnn_benchmark": None,  # detectron2's default_setup
    "float32_precision": None,  # detectron2's default_setup after 0.6
    "amp": {"enabled": None},
    # create_ddp_model(model, fp16_compression=..., **DistributedDataParallel arguments)
    "ddp": _argument_names(DistributedDataParallel, skip=("module",)) | {"fp16_compression"},
    "checkpointer": _argument_names(PeriodicCheckpointer, skip=("checkpointer",)),
}
"""The ``train`` keys that ``tools/lazyconfig_train_net.py`` and detectron2 read."""

CONFIG_SCHEMA: Schema = {"train": TRAIN_KEYS}
"""Schemas of the plain (non-LazyCall) top-level nodes that are checked key by key."""


class ConfigKeyError(KeyError):
    """A config key that nothing reads (a typo, a removed option); the message names the key."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


def _suggestion(key: str, name: str, candidates: Collection[str]) -> str:
    prefix = key.rsplit(".", 1)[0] + "." if "." in key else ""
    matches = difflib.get_close_matches(name, sorted(candidates), n=3, cutoff=0.6)
    if matches:
        return "did you mean " + " or ".join(prefix + match for match in matches) + "?"
    return f"valid keys there: {', '.join(sorted(candidates)) or '(none)'}."


def _target_arguments(node: Mapping) -> tuple[str, Optional[frozenset]]:
    """Name of a LazyCall node's target and the argument names it takes (None: any)."""
    target = node["_target_"]
    if isinstance(target, str):
        name = target
        try:
            target = locate(target)
        except Exception:  # instantiate reports a target that does not exist
            return name, None
    else:
        name = getattr(target, "__qualname__", repr(target))
    try:
        parameters = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):  # no signature to read (builtins, extension types)
        return name, None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return name, None
    return name, _argument_names(target)


def _unknown_argument(key: str, name: str, target_name: str, accepted: Collection[str]) -> str:
    return f"config key {key}: {target_name} takes no argument {name!r}; " + _suggestion(
        key, name, accepted
    )


def _check_override_key(cfg: DictConfig, key: str, schema: Schema, text: str) -> None:
    """Raise ConfigKeyError unless the key of the override ``text`` names something read."""
    parts = key.split(".")
    node: Any = cfg
    node_schema: Any = schema
    in_lazy_call = False
    for depth, name in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        if isinstance(node, ListConfig):
            if not (name.isdigit() and int(name) < len(node)):
                raise ConfigKeyError(
                    f"config key {key} (override {text}): {'.'.join(parts[:depth])} is a list "
                    f"of {len(node)} entries; use an index 0..{len(node) - 1}."
                )
            node, node_schema = node[int(name)], None
            continue
        if not isinstance(node, DictConfig):
            prefix = ".".join(parts[:depth])
            kind = type(node).__name__
            raise KeyError(f"override {key}: {prefix} is a {kind}, not a config node")
        is_lazy_call = "_target_" in node
        if name in node.keys():
            in_lazy_call = in_lazy_call or is_lazy_call
            node = OmegaConf.select(cfg, here, default=None)
            node_schema = node_schema.get(name) if isinstance(node_schema, Mapping) else None
            continue
        # The key is not in the config: is it something that will be read?
        if is_lazy_call:
            target_name, accepted = _target_arguments(node)
            if accepted is None or name in accepted:
                return
            raise ConfigKeyError(
                f"{_unknown_argument(here, name, target_name, accepted)} (override {text})"
            )
        if node_schema is None and in_lazy_call:  # a dict handed to a constructor, which checks it
            return
        allowed = set() if node_schema is None else set(node_schema)
        if name in allowed:
            return
        raise ConfigKeyError(
            f"unknown config key {here} (override {text}): "
            + _suggestion(here, name, set(node.keys()) | allowed)
        )


def apply_overrides(
    cfg: DictConfig, overrides: Sequence[str], *, schema: Schema = CONFIG_SCHEMA
) -> DictConfig:
    """Apply hydra-syntax ``key=value`` overrides to ``cfg`` in place; returns ``cfg``.

    Args:
        cfg: a loaded LazyConfig.
        overrides: ``key=value`` strings (``a.b=1``, ``a.list.0.c=2``, ``'a.d={x:1}'``).
        schema: allowed keys of plain nodes (see the module docstring).

    Raises:
        ConfigKeyError: a key that neither exists nor is read, with its close matches.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    for override in OverridesParser.create().parse_overrides(list(overrides)):
        key = override.key_or_group
        if override.is_delete():
            raise ValueError(f"override '~{key}': deleting config keys is not supported")
        _check_override_key(cfg, key, schema, override.input_line or key)
        OmegaConf.update(cfg, key, override.value(), merge=False)
    return cfg


def _check_node(node: Any, path: str, node_schema: Any, problems: list[str]) -> None:
    if isinstance(node, list):
        for index, item in enumerate(node):
            _check_node(item, f"{path}.{index}", None, problems)
        return
    if not isinstance(node, dict):
        return
    if "_target_" in node:
        target_name, accepted = _target_arguments(node)
        for name in node:
            if name != "_target_" and accepted is not None and name not in accepted:
                problems.append(_unknown_argument(f"{path}.{name}", name, target_name, accepted))
    elif node_schema is not None:
        allowed = set(node_schema)
        for name in node:
            if name not in allowed:
                key = f"{path}.{name}" if path else name
                problems.append(f"unknown config key {key}: " + _suggestion(key, name, allowed))
    for name, value in node.items():
        child_schema = node_schema.get(name) if isinstance(node_schema, Mapping) else None
        if isinstance(child_schema, Collection) and not isinstance(child_schema, Mapping):
            child_schema = {key: None for key in child_schema}
        _check_node(value, f"{path}.{name}" if path else str(name), child_schema, problems)


def check_config(cfg: DictConfig, *, schema: Schema = CONFIG_SCHEMA) -> None:
    """Check every key of a loaded config: LazyCall arguments against their target's signature,
    the plain nodes of ``schema`` (``train``) against it.

    Raises:
        ConfigKeyError: listing every such key with its config path and close matches.
    """
    container = OmegaConf.to_container(cfg, resolve=False)
    problems: list[str] = []
    _check_node(container, "", {**{key: None for key in container}, **schema}, problems)
    if problems:
        raise ConfigKeyError("\n".join(problems))
