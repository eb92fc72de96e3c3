"""Training matting models without alpha labels, as a detectron2 plugin."""

from . import compat  # noqa: F401  (first: quiets the warnings of detectron2's imports)
