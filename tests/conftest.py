"""Shared test fixtures: the shared data folder (golden metrics, real images), tools as modules,
tiny matting samples, miniature AM-2K / P3M-10K / toy dataset trees and a toy COCO file."""

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from alphafree_matting.data.toy_dataset import make_toy_dataset
from tests.helpers.samples import (
    load_tool,
    make_alpha,
    make_image,
    write_sample,
    write_split,
    write_toy_coco,
)

REPO = Path(__file__).resolve().parents[1]
# The CI checks the shared folder out next to the repository: <repo>/../shared.
SHARED_DIR = Path(os.environ.get("ALPHAFREE_SHARED_DIR", REPO / ".." / "shared"))


@pytest.fixture
def factory() -> SimpleNamespace:
    """The helpers above, for tests (conftest modules are not imported by name)."""
    return SimpleNamespace(
        alpha=make_alpha, image=make_image, write_sample=write_sample, load_tool=load_tool
    )


@pytest.fixture
def label_tool():
    """``tools/make_trimap_labels.py`` as a module."""
    return load_tool("make_trimap_labels")


@pytest.fixture
def datasets_root(tmp_path, monkeypatch) -> Path:
    """Miniature AM-2K, P3M-10k and toy trees (demo, CPU study) under ``$DETECTRON2_DATASETS``
    (official layouts),
    with the generated label folders made by ``tools/make_trimap_labels.py --split``."""
    root = tmp_path / "datasets"
    monkeypatch.setenv("DETECTRON2_DATASETS", str(root))
    am2k, p3m, toy = root / "AM-2K", root / "P3M-10k", root / "toy_matting"
    write_split(am2k / "train", "m_train", {"image": "original", "alpha": "mask"})
    val_folders = {"image": "original", "alpha": "mask", "trimap": "trimap"}
    write_split(am2k / "validation", "m_val", val_folders)
    write_split(p3m / "train", "p_train", {"image": "blurred_image", "alpha": "mask"})
    for subset, image_dir in (("P3M-500-NP", "original_image"), ("P3M-500-P", "blurred_image")):
        write_split(
            p3m / "validation" / subset,
            f"p_{subset[-2:].lower()}",
            {"image": image_dir, "alpha": "mask", "trimap": "trimap"},
        )
    write_split(toy / "train", "toy", {"image": "image", "trimap": "trimap"})
    write_split(toy / "val", "toy_val", {"image": "image", "alpha": "alpha", "trimap": "trimap"})
    all_labels = {"image": "image", "alpha": "alpha", "trimap": "trimap"}
    for subset in ("train", "val"):
        write_split(root / "toy_ablation" / subset, f"abl_{subset}", all_labels)
    splits = [
        "am2k_train",
        "am2k_train_k10",
        "am2k_train_k20",
        "am2k_train_k30",
        "am2k_train_masklabel",
        "p3m_train",
    ]
    assert load_tool("make_trimap_labels").main(sum((["--split", s] for s in splits), [])) == 0
    return root


def shared_subdir(relative: str) -> Path:
    """``<shared>/<relative>``, or skip the test when the shared folder is absent (user clones)."""
    path = SHARED_DIR / relative
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set ALPHAFREE_SHARED_DIR)")
    return path


@pytest.fixture
def metrics_golden_dir() -> Path:
    """``<shared>/metrics_golden``: four cases of the benchmark metrics with expected values."""
    return shared_subdir("metrics_golden")


@pytest.fixture
def real_matting_dir() -> Path:
    """``<shared>/data/real_matting/alphamatting_training_lowres``: 27 images, GT and trimaps."""
    return shared_subdir("data/real_matting/alphamatting_training_lowres")


@pytest.fixture
def real_alpha_dir(real_matting_dir) -> Path:
    """The 27 alphamatting.com GT alphas of the shared data folder (skip when absent)."""
    return real_matting_dir / "alpha"


# --- COCO instance annotations of toy data (tests of data/coco.py and the COCO training run) ---
@pytest.fixture(scope="session")
def toy_coco(tmp_path_factory) -> SimpleNamespace:
    """Toy data (``make_toy_dataset``: 12 train / 4 val images of 64 px) and a COCO instances
    file of its training split: ``root`` (a DETECTRON2_DATASETS), ``json_file``, ``image_root``,
    ``alpha_root`` and the JSON ``data``."""
    from alphafree_matting.data.toy_dataset import make_toy_dataset

    root = tmp_path_factory.mktemp("coco_datasets")
    make_toy_dataset(str(root / "toy_matting"), num_train=12, num_val=4, size=64, seed=3)
    train = root / "toy_matting" / "train"
    json_file = root / "toy_coco" / "instances_train.json"
    data = write_toy_coco(train, json_file)
    return SimpleNamespace(
        root=root,
        json_file=json_file,
        image_root=train / "image",
        alpha_root=train / "alpha",
        data=data,
    )


@pytest.fixture(scope="session")
def toy_datasets(tmp_path_factory) -> Path:
    """A ``$DETECTRON2_DATASETS`` folder holding toy_matting: 6 train / 3 val images of 64 px,
    with image, trimap and alpha folders in both splits (the tools' and projects' runs)."""
    root = tmp_path_factory.mktemp("toy_datasets")
    make_toy_dataset(str(root / "toy_matting"), num_train=6, num_val=3, size=64, seed=5)
    return root
