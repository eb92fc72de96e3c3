#!/usr/bin/env python
"""Write the synthetic toy matting dataset (``alphafree_matting.data.toy_dataset``) to disk.

    python tools/make_toy_dataset.py --output datasets/toy_matting \\
        [--num-train 200 --num-val 20 --size 128 --seed 0 --workers 2]
"""

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Optional

from alphafree_matting.data.toy_dataset import make_toy_dataset


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="datasets/toy_matting", help="dataset folder")
    parser.add_argument("--num-train", type=int, default=200, help="training images")
    parser.add_argument("--num-val", type=int, default=20, help="validation images")
    parser.add_argument("--size", type=int, default=128, help="side of the square images")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="processes (the output does not depend on it)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        make_toy_dataset(
            args.output, args.num_train, args.num_val, args.size, args.seed, args.workers
        )
    except (ValueError, FileExistsError) as error:
        parser.exit(2, f"error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
