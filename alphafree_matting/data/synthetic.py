"""Synthetic matting composites ``I = alpha * F + (1 - alpha) * B`` for the demo, tests, ablation.

Irregular core, soft edge sectors, a veil and hair-like strands over warm vs cool textured layers.
A sample is a pure function of ``(seed, index, size)`` and the knobs (its generator is
``default_rng([seed, index])``); the order of the draws in :func:`make_sample` is part of the data.
"""

import colorsys
import logging
import math
from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from .trimap_labels import KERNEL_RANGE, LABEL_RESOLUTION, alpha_to_trimap

logger = logging.getLogger(__name__)

__all__ = [
    "TEXTURE_KINDS",
    "FOREGROUND_HUES",
    "BACKGROUND_HUES",
    "SPLIT_FIRST_INDEX",
    "MIN_SIZE",
    "split_sample_index",
    "trimap_kernel_range",
    "make_pattern",
    "make_texture",
    "make_alpha",
    "composite",
    "make_sample",
]

TEXTURE_KINDS = ("fur", "noise", "stripes", "checker")
"""High-frequency pattern kinds; each layer draws one and lays it over a smooth gradient."""
FOREGROUND_HUES = (-40.0, 60.0)
"""Hue range (degrees) of foreground colours: reds, oranges, yellows, browns (hair, fur, skin)."""
BACKGROUND_HUES = (90.0, 270.0)
"""Hue range (degrees) of background colours: greens, cyans, blues, violets."""
SPLIT_FIRST_INDEX = {"train": 0, "val": 1_000_000}
"""Sample index of the first image of each split: the splits never share a sample."""
MIN_SIZE = 16
"""Smallest supported image side in pixels."""

_SUPERSAMPLING = 4  # strands are drawn at 4x resolution and area-averaged: anti-aliased coverage
_REFERENCE_SIZE = 128  # blur and rim widths are drawn in pixels of a 128-px image, then scaled
_GRAIN = 0.01  # standard deviation of the fine noise added to every layer (sensor-like grain)


def split_sample_index(split: str, position: int) -> int:
    """Sample index of the ``position``-th image of a split (``"train"`` or ``"val"``)."""
    if split not in SPLIT_FIRST_INDEX:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_FIRST_INDEX)}")
    if not 0 <= position < SPLIT_FIRST_INDEX["val"]:
        raise ValueError(f"position {position} out of range [0, {SPLIT_FIRST_INDEX['val']})")
    return SPLIT_FIRST_INDEX[split] + position


def trimap_kernel_range(size: int) -> tuple[int, int]:
    """Trimap erosion kernel range at native ``size``: the paper's [1, 29] at 640 px, scaled.

    Same band widths relative to the image as the paper's resize to 640: [1, 6] at 128 px.
    """
    low, high = KERNEL_RANGE
    scale = size / LABEL_RESOLUTION
    return max(1, round(low * scale)), max(1, round(high * scale))


# --- textures --------------------------------------------------------------------------------
def _random_colours(
    rng: np.random.Generator,
    count: int,
    hues: tuple[float, float],
    saturation: tuple[float, float],
    value: tuple[float, float],
) -> np.ndarray:
    """``(count, 3)`` float32 RGB colours in [0, 1] drawn uniformly in an HSV box."""
    colours = []
    for _ in range(count):
        hue = (rng.uniform(*hues) % 360.0) / 360.0
        colours.append(colorsys.hsv_to_rgb(hue, rng.uniform(*saturation), rng.uniform(*value)))
    return np.asarray(colours, dtype=np.float32)


def _coordinates(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(size, size)`` float32 pixel-centre row and column coordinates."""
    axis = np.arange(size, dtype=np.float32)
    return np.meshgrid(axis, axis, indexing="ij")


def _rotated(size: int, angle: float, origin=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates about ``origin`` (row, col), rotated by ``angle`` (radians).

    Returns:
        (along, across) the direction ``angle``, each ``(size, size)`` float32.
    """
    rows, cols = _coordinates(size)
    rows, cols = rows - origin[0], cols - origin[1]
    along = cols * math.cos(angle) + rows * math.sin(angle)
    across = -cols * math.sin(angle) + rows * math.cos(angle)
    return along, across


def _standardised(field: np.ndarray) -> np.ndarray:
    """Zero-mean field to [0, 1] around 0.5 (about +-2 standard deviations)."""
    field = (field - field.mean()) / (field.std() + 1e-6)
    return np.clip(0.5 + 0.25 * field, 0.0, 1.0)


def _streaks(noise: np.ndarray, length: int, angle: float) -> np.ndarray:
    """White noise smeared along ``angle`` over ``length`` pixels: oriented fur-like strokes."""
    kernel = np.zeros((length, length), dtype=np.float32)
    half = (length - 1) / 2.0
    dx, dy = half * math.cos(angle), half * math.sin(angle)
    start = (round((half - dx) * 16), round((half - dy) * 16))
    end = (round((half + dx) * 16), round((half + dy) * 16))
    cv2.line(kernel, start, end, 1.0, 1, cv2.LINE_8, shift=4)
    return cv2.filter2D(noise, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)


def make_pattern(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    """A high-frequency grey pattern.

    Args:
        rng: the sample's random generator.
        size: side of the square pattern in pixels.
        kind: one of :data:`TEXTURE_KINDS`.

    Returns:
        ``(size, size)`` float32 array in [0, 1], mean about 0.5.
    """
    if kind == "fur":
        noise = rng.standard_normal((size, size)).astype(np.float32)
        length = int(rng.integers(5, 12))
        angle = rng.uniform(0.0, math.pi)
        turn = rng.uniform(-0.8, 0.8)
        blend = np.clip(_rotated(size, rng.uniform(0.0, 2 * math.pi))[0] / size + 0.5, 0.0, 1.0)
        pattern = (1 - blend) * _streaks(noise, length, angle)
        pattern += blend * _streaks(noise, length, angle + turn)
        return _standardised(pattern)
    if kind == "noise":
        noise = rng.standard_normal((size, size)).astype(np.float32)
        return _standardised(cv2.GaussianBlur(noise, (0, 0), rng.uniform(0.5, 0.8)))
    if kind == "stripes":
        along, across = _rotated(size, rng.uniform(0.0, math.pi))
        period = rng.uniform(3.0, 7.0)
        wave = rng.uniform(0.5, 3.0) * np.sin(2 * math.pi * across / rng.uniform(20.0, 60.0))
        return 0.5 + 0.5 * np.sin(2 * math.pi * (along + wave) / period + rng.uniform(0, 6.3))
    if kind == "checker":
        along, across = _rotated(size, rng.uniform(0.0, math.pi / 2))
        cell = rng.uniform(2.0, 6.0)
        checker = (np.floor(along / cell) + np.floor(across / cell)) % 2
        return cv2.GaussianBlur(checker.astype(np.float32), (0, 0), 0.5)
    raise ValueError(f"unknown texture kind {kind!r}; expected one of {TEXTURE_KINDS}")


def make_texture(
    rng: np.random.Generator,
    size: int,
    hues: tuple[float, float],
    saturation: tuple[float, float] = (0.2, 0.85),
    value: tuple[float, float] = (0.2, 0.9),
    contrast: tuple[float, float] = (0.25, 0.45),
    kinds: Sequence[str] = TEXTURE_KINDS,
) -> np.ndarray:
    """A colour layer: a smooth two-colour gradient modulated by a high-frequency pattern.

    Args:
        rng: the sample's random generator.
        size: side of the square layer in pixels.
        hues: hue range of the layer's colours, in degrees (may start below 0).
        saturation, value: HSV ranges of the layer's colours, in [0, 1].
        contrast: range of the pattern's peak-to-peak amplitude.
        kinds: pattern kinds to draw from (:func:`make_pattern`).

    Returns:
        ``(size, size, 3)`` float32 RGB in [0, 1].
    """
    colours = _random_colours(rng, 2, hues, saturation, value)
    along, _ = _rotated(size, rng.uniform(0.0, 2 * math.pi))
    ramp = (along - along.min()) / (np.ptp(along) + 1e-6)
    layer = colours[0] + ramp[..., None] * (colours[1] - colours[0])  # (H, W, 3)
    pattern = make_pattern(rng, size, kinds[int(rng.integers(len(kinds)))])
    layer = layer + rng.uniform(*contrast) * (pattern - 0.5)[..., None]
    layer = layer + _GRAIN * rng.standard_normal((size, size, 1)).astype(np.float32)
    return np.clip(layer, 0.0, 1.0).astype(np.float32)


# --- alpha -----------------------------------------------------------------------------------
def _core_radius(rng: np.random.Generator, size: int):
    """Random star-shaped outline: returns ``radius(angle)`` in pixels (vectorised)."""
    base = size * rng.uniform(0.17, 0.3)
    orders = np.arange(2, 7)
    amplitudes = rng.uniform(0.0, 0.3, size=orders.size) / orders
    phases = rng.uniform(0.0, 2 * math.pi, size=orders.size)

    def radius(angle):
        angle = np.asarray(angle, dtype=np.float32)[..., None]
        wobble = (amplitudes * np.sin(orders * angle + phases)).sum(-1)
        return base * np.maximum(1.0 + wobble, 0.4)

    return radius


def _sector_weight(angle: np.ndarray, centres: np.ndarray, half_width: float) -> np.ndarray:
    """Smooth bumps in [0, 1], exactly 0 farther than ``half_width`` radians from ``centres``."""
    closeness = (np.cos(angle[..., None] - centres) - math.cos(half_width)) / (
        1.0 - math.cos(half_width)
    )
    return (np.clip(closeness, 0.0, 1.0) ** 2).max(-1)


def _make_core(rng, size, centre, radius, soft_edge_probability) -> np.ndarray:
    rows, cols = _coordinates(size)
    distance = np.hypot(rows - centre[0], cols - centre[1])
    angle = np.arctan2(rows - centre[0], cols - centre[1])
    core = np.clip(radius(angle) - distance + 0.5, 0.0, 1.0)  # 1-px anti-aliased edge
    if rng.random() < soft_edge_probability:
        blurred = cv2.GaussianBlur(core, (0, 0), rng.uniform(1.5, 4.0) * size / _REFERENCE_SIZE)
        centres = rng.uniform(-math.pi, math.pi, size=int(rng.integers(1, 3)))
        weight = _sector_weight(angle, centres, rng.uniform(0.5, 1.2))
        core = (1.0 - weight) * core + weight * blurred
    return core


def _make_veil(rng, size, centre, radius, opacity) -> np.ndarray:
    direction = rng.uniform(-math.pi, math.pi)
    reach = float(radius(direction)) * rng.uniform(0.9, 1.3)
    veil_centre = (centre[0] + reach * math.sin(direction), centre[1] + reach * math.cos(direction))
    semi_axes = (size * rng.uniform(0.15, 0.3), size * rng.uniform(0.08, 0.18))
    along, across = _rotated(size, rng.uniform(0.0, math.pi), origin=veil_centre)
    ellipse = np.hypot(along / semi_axes[0], across / semi_axes[1])  # 1 on the outline
    softness = rng.uniform(1.0, 4.0) * size / _REFERENCE_SIZE  # width of the soft rim, px
    inside = np.clip((1.0 - ellipse) * min(semi_axes) / softness, 0.0, 1.0)
    folds = 1.0 + 0.3 * np.sin(2 * math.pi * along / (size * rng.uniform(0.08, 0.2)))
    return inside * np.clip(rng.uniform(*opacity) * folds, 0.0, 1.0)


def _bezier(points: np.ndarray, steps: int) -> np.ndarray:
    """``(steps, 2)`` points of the quadratic Bezier curve with control ``points`` (3, 2)."""
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1 - t) ** 2 * points[0] + 2 * (1 - t) * t * points[1] + t**2 * points[2]


def _draw_strand(canvas: np.ndarray, curve: np.ndarray, widths, opacities) -> None:
    """Draw one tapered strand (points in canvas pixels) into ``canvas`` with a max blend."""
    margin = int(math.ceil(widths.max())) + 2
    top_left = np.floor(curve.min(0)).astype(int) - margin
    bottom_right = np.ceil(curve.max(0)).astype(int) + margin
    local = np.zeros((bottom_right[1] - top_left[1], bottom_right[0] - top_left[0]), np.float32)
    points = [tuple(point) for point in np.round((curve - top_left) * 16).astype(int).tolist()]
    thicknesses = np.maximum(1, np.round(widths)).astype(int).tolist()
    for i, (thickness, opacity) in enumerate(zip(thicknesses, opacities.tolist())):
        # points carry 4 fractional bits (shift=4): sub-pixel accurate segments
        cv2.line(local, points[i], points[i + 1], opacity, thickness, cv2.LINE_8, shift=4)
    # paste the bounding box, clipped to the canvas
    y0, x0 = max(top_left[1], 0), max(top_left[0], 0)
    y1, x1 = min(bottom_right[1], canvas.shape[0]), min(bottom_right[0], canvas.shape[1])
    if y1 <= y0 or x1 <= x0:
        return
    window = local[y0 - top_left[1] : y1 - top_left[1], x0 - top_left[0] : x1 - top_left[0]]
    np.maximum(canvas[y0:y1, x0:x1], window, out=canvas[y0:y1, x0:x1])


def _make_strands(rng, size, centre, radius, count, opacity) -> np.ndarray:
    scale = _SUPERSAMPLING
    canvas = np.zeros((size * scale, size * scale), np.float32)
    hairy_sectors = rng.uniform(-math.pi, math.pi, size=int(rng.integers(1, 3)))
    spread = rng.uniform(0.3, 0.8)
    for _ in range(count):
        if rng.random() < 0.8:  # most strands grow from the hairy sectors, some anywhere
            root_angle = rng.choice(hairy_sectors) + rng.normal(0.0, spread)
        else:
            root_angle = rng.uniform(-math.pi, math.pi)
        root_radius = float(radius(root_angle)) * rng.uniform(0.85, 0.98)
        root = np.array(
            [
                centre[1] + root_radius * math.cos(root_angle),
                centre[0] + root_radius * math.sin(root_angle),
            ]
        )  # (x, y)
        heading = root_angle + rng.normal(0.0, 0.35)
        direction = np.array([math.cos(heading), math.sin(heading)])
        normal = np.array([-direction[1], direction[0]])
        length = size * rng.uniform(0.1, 0.3)
        bend = rng.uniform(-0.35, 0.35) * length
        control = np.stack(
            [
                root,
                root + 0.5 * length * direction + bend * normal,
                root + length * direction + rng.uniform(0.0, 1.5) * bend * normal,
            ]
        )
        steps = int(math.ceil(length / 2)) + 2  # a segment every ~2 px
        t = np.linspace(0.0, 1.0, steps - 1)  # one width / opacity per segment
        widths = scale * (rng.uniform(0.8, 1.8) * (1 - t) + rng.uniform(0.25, 0.5) * t)
        strand_opacity = rng.uniform(*opacity)
        opacities = strand_opacity * (1 - t * (1 - rng.uniform(0.2, 0.6)))
        _draw_strand(canvas, _bezier(control, steps) * scale, widths, opacities)
    return cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)


def make_alpha(
    rng: np.random.Generator,
    size: int,
    num_strands: tuple[int, int] = (15, 45),
    strand_opacity: tuple[float, float] = (0.35, 0.95),
    veil_probability: float = 0.6,
    veil_opacity: tuple[float, float] = (0.35, 0.6),
    soft_edge_probability: float = 0.8,
) -> np.ndarray:
    """An alpha matte: irregular core, soft edge sectors, a veil and hair-like strands.

    Args:
        rng: the sample's random generator.
        size: side of the square matte in pixels (shapes scale with it).
        num_strands: inclusive range of the number of strands.
        strand_opacity: range of a strand's opacity at its root; it fades by 40-80 % to the tip.
        veil_probability: probability that the sample has a semi-transparent veil.
        veil_opacity: range of the veil's mean opacity (folds vary it by +-30 %).
        soft_edge_probability: probability that one or two boundary sectors are defocused.

    Returns:
        ``(size, size)`` float32 in [0, 1], multiples of 1/255 (exact through an 8-bit PNG).
    """
    centre = (size * rng.uniform(0.4, 0.6), size * rng.uniform(0.4, 0.6))  # (row, col)
    radius = _core_radius(rng, size)
    core = _make_core(rng, size, centre, radius, soft_edge_probability)
    veil = np.zeros_like(core)
    if rng.random() < veil_probability:
        veil = _make_veil(rng, size, centre, radius, veil_opacity)
    count = int(rng.integers(num_strands[0], num_strands[1] + 1))
    strands = _make_strands(rng, size, centre, radius, count, strand_opacity)
    alpha = 1.0 - (1.0 - core) * (1.0 - veil) * (1.0 - strands)  # union of the coverages
    levels = np.round(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.float32)
    return levels / np.float32(255.0)  # bit-identical to an 8-bit PNG read back as float32


def composite(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The matting equation ``alpha * F + (1 - alpha) * B``.

    Args:
        foreground, background: ``(H, W, 3)`` float arrays in [0, 1].
        alpha: ``(H, W)`` float array in [0, 1].

    Returns:
        ``(H, W, 3)`` float32 in [0, 1].
    """
    alpha = alpha[..., None].astype(np.float32)
    return (alpha * foreground + (1.0 - alpha) * background).astype(np.float32)


def make_sample(
    index: int,
    size: int = 128,
    seed: int = 0,
    *,
    num_strands: tuple[int, int] = (15, 45),
    veil_probability: float = 0.6,
    soft_edge_probability: float = 0.8,
    texture_contrast: tuple[float, float] = (0.25, 0.45),
    kernel_range: Optional[tuple[int, int]] = None,
) -> dict[str, np.ndarray]:
    """One synthetic matting sample, a pure function of ``(seed, index, size)`` and the knobs.

    Args:
        index: sample index >= 0 (see :func:`split_sample_index` for the splits).
        size: side of the square sample in pixels (>= :data:`MIN_SIZE`).
        seed: dataset seed >= 0.
        num_strands, veil_probability, soft_edge_probability: see :func:`make_alpha`.
        texture_contrast: range of the high-frequency pattern amplitude of both layers.
        kernel_range: inclusive trimap erosion kernel range; None: :func:`trimap_kernel_range`.

    Returns:
        dict of (size, size[, 3]) ``image`` uint8 RGB, ``alpha`` float32 in [0, 1], ``trimap``
        uint8 in {0, 128, 255}, ``foreground`` / ``background`` float32 RGB in [0, 1].
    """
    if index < 0 or seed < 0:
        raise ValueError(f"index and seed must be >= 0, got index={index}, seed={seed}")
    if size < MIN_SIZE:
        raise ValueError(f"size must be >= {MIN_SIZE} pixels, got {size}")
    rng = np.random.default_rng([seed, index])
    alpha = make_alpha(
        rng,
        size,
        num_strands=num_strands,
        veil_probability=veil_probability,
        soft_edge_probability=soft_edge_probability,
    )
    foreground = make_texture(
        rng,
        size,
        FOREGROUND_HUES,
        saturation=(0.35, 0.85),
        value=(0.35, 0.95),
        contrast=texture_contrast,
    )
    background = make_texture(
        rng,
        size,
        BACKGROUND_HUES,
        saturation=(0.15, 0.7),
        value=(0.15, 0.85),
        contrast=texture_contrast,
    )
    low, high = kernel_range if kernel_range is not None else trimap_kernel_range(size)
    kernels = (int(rng.integers(low, high + 1)), int(rng.integers(low, high + 1)))
    trimap = alpha_to_trimap(alpha, kernel_size=kernels, resolution=0)
    image = np.round(composite(foreground, background, alpha) * 255.0).astype(np.uint8)
    return {
        "image": image,
        "alpha": alpha,
        "trimap": trimap,
        "foreground": foreground,
        "background": background,
    }
