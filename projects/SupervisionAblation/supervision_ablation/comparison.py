"""Comparing finished runs on one held-out split, for ``tools/reproduce_ablation.py``.

Metric bars, training curves, prediction grids, error by region, DDC of predictions vs the GT's,
and markdown of those; inputs are metric dicts, run folders and folders of saved alphas.
"""

import json
import os
from collections.abc import Sequence
from typing import Optional

import numpy as np
import torch

from alphafree_matting.conventions import alpha_to_uint8, trimap_to_target, unknown_mask
from alphafree_matting.criterion import ddc_loss, select_neighbours
from alphafree_matting.data.io import read_alpha, read_image, read_trimap
from alphafree_matting.evaluation.visualize import join_panels, with_title

__all__ = [
    "PLOTTED_METRICS",
    "comparison_grid",
    "ddc_at_alphas",
    "ddc_section",
    "error_by_alpha",
    "error_section",
    "markdown_table",
    "percent_change",
    "plot_bars",
    "plot_curves",
    "training_records",
]

PLOTTED_METRICS = ("SAD", "Grad", "SAD-T")


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (imported when a figure is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_records(run_dir: str) -> list[dict]:
    """The run's metrics.json lines (detectron2's JSONWriter: losses, periodic evaluations)."""
    with open(os.path.join(run_dir, "metrics.json")) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def plot_bars(metrics: dict[str, dict], path: str, keys: Sequence[str] = PLOTTED_METRICS) -> None:
    """One bar panel per metric of ``keys``, one bar per run of ``metrics`` (name -> dict)."""
    plt = _pyplot()
    names = list(metrics)
    colours = plt.get_cmap("tab10")(np.arange(len(names)))
    figure, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6))
    for axis, key in zip(np.atleast_1d(axes), keys):
        values = [metrics[name][key] for name in names]
        bars = axis.bar(range(len(names)), values, color=colours)
        axis.bar_label(bars, fmt="%.3g", fontsize=8)
        axis.set_title(f"{key} (held-out mean, lower is better)", fontsize=9)
        axis.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
        axis.margins(y=0.15)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_curves(
    records: dict[str, list[dict]], path: str, keys: Sequence[str] = PLOTTED_METRICS
) -> None:
    """Top row: each run's training losses; bottom row: the held-out ``keys`` of all runs."""
    plt = _pyplot()
    names = list(records)
    columns = max(len(names), len(keys))
    figure, axes = plt.subplots(2, columns, figsize=(3.2 * columns, 6.2), squeeze=False)
    for axis, name in zip(axes[0], names):
        losses = [r for r in records[name] if "total_loss" in r]
        terms = ["total_loss"] + sorted({k for r in losses for k in r if k.startswith("loss_")})
        for key in terms if len(terms) > 2 else terms[:1]:
            axis.plot(
                [r["iteration"] + 1 for r in losses],
                [r[key] for r in losses],
                label=key.replace("loss_", ""),
                lw=1.2,
            )
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("iteration", fontsize=8)
        axis.set_yscale("log")
        axis.legend(fontsize=7)
    for axis in axes[0][len(names) :]:
        axis.axis("off")
    for axis, key in zip(axes[1], keys):
        for name in names:
            evaluations = [r for r in records[name] if f"matting/{key}" in r]
            # periodic evaluations are logged at the last finished iteration, the final one
            # after it: plot both at the number of finished iterations
            finished = max(
                (r["iteration"] + 1 for r in records[name] if "total_loss" in r), default=0
            )
            axis.plot(
                [min(r["iteration"] + 1, finished) for r in evaluations],
                [r[f"matting/{key}"] for r in evaluations],
                marker="o",
                ms=3,
                label=name,
            )
        axis.set_title(f"held-out {key} during training", fontsize=9)
        axis.set_xlabel("iteration", fontsize=8)
        axis.set_yscale("log")
        axis.legend(fontsize=7)
    for axis in axes[1][len(keys) :]:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _gray_panel(alpha: np.ndarray, title: str) -> np.ndarray:
    return with_title(np.repeat(alpha_to_uint8(alpha)[..., None], 3, axis=2), title)


def comparison_grid(val_root: str, predictions: dict[str, str], num_images: int) -> np.ndarray:
    """Rows of image | trimap | GT | predictions for the first ``num_images`` images by name.

    Args:
        val_root: folder with ``image/``, ``trimap/`` and ``alpha/``.
        predictions: column title -> folder of the alpha PNGs the evaluator saved.

    Returns:
        uint8 RGB, rows and panels separated by white gaps.
    """
    rows = []
    for stem in _stems(val_root)[:num_images]:
        file = f"{stem}.png"
        panels = [
            with_title(read_image(os.path.join(val_root, "image", file)), "image"),
            _gray_panel(read_trimap(os.path.join(val_root, "trimap", file)) / 255, "trimap"),
            _gray_panel(read_alpha(os.path.join(val_root, "alpha", file)), "GT"),
        ]
        panels += [
            _gray_panel(read_alpha(os.path.join(folder, file)), title)
            for title, folder in predictions.items()
        ]
        rows.append(join_panels(panels, axis=1))
    return join_panels(rows, axis=0)


def _stems(val_root: str) -> list[str]:
    return sorted(os.path.splitext(f)[0] for f in os.listdir(os.path.join(val_root, "image")))


def ddc_at_alphas(
    val_root: str,
    predictions: dict[str, str],
    window: int = 11,
    k: Optional[int] = None,
    border: str = "zeros",
) -> dict[str, dict]:
    """Mean unweighted DDC loss of the GT alphas and of each prediction folder (name -> folder).

    A prediction below the GT shows that DDC's optimum on this data is not the GT.

    Returns:
        {"GT" or prediction name: {"whole": mean, "unknown": mean}}.
    """
    sums: dict[str, np.ndarray] = {}
    stems = _stems(val_root)
    for stem in stems:
        file = f"{stem}.png"
        image = torch.from_numpy(read_image(os.path.join(val_root, "image", file)))
        neighbours = select_neighbours(
            image.permute(2, 0, 1).float() / 255, window=window, k=k, border=border
        )
        neighbours = tuple(t[None] for t in neighbours)  # (1, k, H, W)
        trimap = torch.from_numpy(read_trimap(os.path.join(val_root, "trimap", file)))
        unknown = unknown_mask(trimap_to_target(trimap))[None, None]
        folders = {"GT": os.path.join(val_root, "alpha"), **predictions}
        for name, folder in folders.items():
            alpha = torch.from_numpy(read_alpha(os.path.join(folder, file)))[None, None]
            values = [
                ddc_loss(
                    None,
                    alpha.float(),
                    window=window,
                    k=k,
                    border=border,
                    neighbours=neighbours,
                    mask=m,
                )
                for m in (None, unknown)
            ]
            sums[name] = sums.get(name, 0.0) + np.array([v.item() for v in values])
    return {
        name: {"whole": float(total[0]) / len(stems), "unknown": float(total[1]) / len(stems)}
        for name, total in sums.items()
    }


def error_by_alpha(
    val_root: str, predictions: dict[str, str], opaque_tolerance: float = 0.01
) -> dict[str, dict]:
    """Each prediction's SAD split into known pixels and unknown pixels by GT alpha.

    Unknown pixels are background (GT <= tol), foreground (>= 1 - tol) or partial; "partial
    signed" sums prediction - GT over the partial ones (> 0: too opaque).

    Returns:
        {name: {"known", "unknown bg", "unknown fg", "unknown partial", "partial signed"}},
        per-image sums averaged over the images, in thousands (SAD's unit).
    """
    totals: dict[str, np.ndarray] = {}
    stems = _stems(val_root)
    for stem in stems:
        file = f"{stem}.png"
        gt = read_alpha(os.path.join(val_root, "alpha", file)).astype(np.float64)
        trimap = read_trimap(os.path.join(val_root, "trimap", file))
        unknown = unknown_mask(trimap_to_target(trimap))
        background, foreground = gt <= opaque_tolerance, gt >= 1 - opaque_tolerance
        partial = unknown & ~background & ~foreground
        for name, folder in predictions.items():
            signed = read_alpha(os.path.join(folder, file)) - gt
            error = np.abs(signed)
            totals[name] = totals.get(name, 0.0) + np.array(
                [
                    error[~unknown].sum(),
                    error[unknown & background].sum(),
                    error[unknown & foreground].sum(),
                    error[partial].sum(),
                    signed[partial].sum(),
                ]
            )
    keys = ("known", "unknown bg", "unknown fg", "unknown partial", "partial signed")
    return {
        name: {key: float(value) / len(stems) / 1000 for key, value in zip(keys, total)}
        for name, total in totals.items()
    }


# --- markdown --------------------------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> list[str]:
    """Markdown table lines (and a blank line) of ``header`` and ``rows`` of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows] + [""]


def percent_change(value: float, reference: float) -> str:
    """``value`` against ``reference`` as a signed percentage, e.g. ``-38 %``."""
    return f"{100 * (value / reference - 1):+.0f} %"


def error_section(errors: dict[str, dict], titles: dict[str, str]) -> list[str]:
    """Markdown on :func:`error_by_alpha` (``titles``: run name -> row title)."""
    keys = ("known", "unknown bg", "unknown fg", "unknown partial", "partial signed")
    lines = [
        "## Where the error is",
        "",
        "Each policy's SAD (first seed, from the saved 8-bit alphas) split into the trimap's"
        " known pixels, where a neighbour loss can add texture noise, and its unknown pixels"
        " by GT alpha: background (0), foreground (1) and partial; the signed error of the"
        " partial pixels is positive when a policy makes them too opaque (solid veils, thick"
        " strands), negative when too transparent (fading strands).",
        "",
    ]
    header = [
        "policy",
        "known",
        "unknown: GT 0",
        "unknown: GT 1",
        "unknown: GT partial",
        "partial, signed",
        "sum",
    ]
    return lines + markdown_table(
        header,
        [
            [titles[n], *(f"{e[k]:.4f}" for k in keys), f"{sum(e[k] for k in keys[:4]):.4f}"]
            for n, e in errors.items()
        ],
    )


def ddc_section(ddc: dict[str, dict], window: int, titles: dict[str, str]) -> list[str]:
    """Markdown on :func:`ddc_at_alphas` (``titles``: run name -> row title)."""
    gt = ddc["GT"]
    lines = [
        "## DDC's optimum and the GT",
        "",
        f"The DDC loss (window {window}, unweighted) of the GT alphas and of each policy's"
        " predictions on the held-out images (first seed). A prediction below the GT"
        " satisfies DDC better than the GT does: on this data the loss's optimum is not the"
        " GT, which limits how close trimap-only supervision can come to alpha supervision"
        " in the unknown region.",
        "",
    ]
    rows = [
        [
            titles.get(n, "GT alpha"),
            *(
                f"{ddc[n][region]:.4f} ({percent_change(ddc[n][region], gt[region])})"
                if n != "GT"
                else f"{ddc[n][region]:.4f}"
                for region in ("whole", "unknown")
            ),
        ]
        for n in ddc
    ]
    header = ["alpha", "DDC, whole image (vs GT)", "DDC, unknown region (vs GT)"]
    return lines + markdown_table(header, rows)
