#!/usr/bin/env python
"""Make the README picture from the demo's evaluation grids.

    make demo      # trains configs/demo_ddc.py; its evaluation writes output/demo_ddc/eval/visuals/
    python tools/make_readme_figure.py [--visuals output/demo_ddc/eval/visuals] [--rows 2] \\
        [--images 0000 0001] [--output docs/images/demo_ddc.png]

The chosen grids are stacked unchanged, with white gaps, into a lossless PNG (warning above
``--max-kb``).
"""

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Optional

import numpy as np

from alphafree_matting.data.io import read_image, write_png
from alphafree_matting.evaluation.visualize import SEPARATOR_WIDTH

DEFAULT_VISUALS = os.path.join("output", "demo_ddc", "eval", "visuals")
DEFAULT_OUTPUT = os.path.join("docs", "images", "demo_ddc.png")
ROW_GAP = SEPARATOR_WIDTH
"""White rows between two grids: the gap the grids have between their panels."""
_WHITE = 255


def stack_grids(grids: Sequence[np.ndarray], gap: int = ROW_GAP) -> np.ndarray:
    """Stack (h_i, w_i, 3) uint8 grids top to bottom with ``gap`` white rows, white-padded right.

    Returns:
        (sum h_i + gap * (n - 1), max w_i, 3) uint8.
    """
    if not grids:
        raise ValueError("stack_grids: no grid to stack")
    width = max(grid.shape[1] for grid in grids)
    rows = []
    for index, grid in enumerate(grids):
        if index:
            rows.append(np.full((gap, width, 3), _WHITE, np.uint8))
        padding = np.full((grid.shape[0], width - grid.shape[1], 3), _WHITE, np.uint8)
        rows.append(np.concatenate([grid, padding], axis=1))
    return np.concatenate(rows, axis=0)


def choose_grids(visuals: str, images: Optional[Sequence[str]], rows: int) -> list[str]:
    """Paths of the grids to show: ``images`` (stems) or the first ``rows`` PNGs by name."""
    if not os.path.isdir(visuals):
        raise SystemExit(
            f"{visuals} does not exist: run `make demo` first (its evaluation writes the grids), "
            "or give --visuals the eval/visuals folder of another run."
        )
    available = sorted(name[:-4] for name in os.listdir(visuals) if name.endswith(".png"))
    if images:
        missing = [stem for stem in images if stem not in available]
        if missing:
            raise SystemExit(f"no grid {', '.join(missing)} in {visuals} (it has {available})")
        chosen = list(images)
    else:
        chosen = available[:rows]
    if not chosen:
        raise SystemExit(f"no grid (*.png) in {visuals}")
    return [os.path.join(visuals, f"{stem}.png") for stem in chosen]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--visuals", default=DEFAULT_VISUALS, help="folder of evaluation grids")
    parser.add_argument("--images", nargs="+", default=None, help="stems of the grids to show")
    parser.add_argument("--rows", type=int, default=2, help="first N grids (without --images)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="the PNG to write")
    parser.add_argument("--max-kb", type=float, default=150.0, help="warn above this size")
    args = parser.parse_args(argv)

    paths = choose_grids(args.visuals, args.images, args.rows)
    figure = stack_grids([read_image(path) for path in paths])
    write_png(args.output, figure, compression=9)
    size = os.path.getsize(args.output)
    names = ", ".join(os.path.basename(path) for path in paths)
    print(
        f"wrote {args.output}: {figure.shape[1]}x{figure.shape[0]} px, {size / 1024:.0f} KB "
        f"({names} from {args.visuals})"
    )
    if size > args.max_kb * 1024:
        print(
            f"warning: {args.output} is over {args.max_kb:.0f} KB; use fewer --rows",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
