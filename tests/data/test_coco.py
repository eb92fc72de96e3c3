"""COCO instance annotations as matting data (data/coco.py, data/instance_labels.py): labels
from the toy COCO file (polygons, RLE, crowd, an image without annotations), the band rule,
per-instance crops, tools/make_trimap_labels.py --coco, and bad input."""

import json
import logging
import math

import cv2
import numpy as np
import pytest
from detectron2.data import DatasetCatalog
from pycocotools import mask as mask_util

from alphafree_matting.data import (
    MattingDataError,
    MattingDatasetMapper,
    PadToSize,
    UnknownContainingCrop,
    load_coco_matting,
    register_coco_matting,
)
from alphafree_matting.data.coco import INSTANCE_MASK_KEY, instance_label
from alphafree_matting.data.io import write_png
from alphafree_matting.data.trimap_labels import label_rng

MIN_AREA = 30  # toy instances are 64 px images' components: keep all but the specks


def _load(toy_coco, **options):
    options.setdefault("min_area", MIN_AREA)
    return load_coco_matting(str(toy_coco.json_file), str(toy_coco.image_root), **options)


def _alpha(toy_coco, record):
    name = record["file_name"].rsplit("/", 1)[-1]
    return cv2.imread(str(toy_coco.alpha_root / name), cv2.IMREAD_GRAYSCALE)


def _decode(segmentation, height, width):
    """The mask of one COCO segmentation, decoded here with pycocotools directly."""
    if isinstance(segmentation, list):
        rle = mask_util.merge(mask_util.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_util.frPyObjects(segmentation, height, width)
    else:
        rle = {"size": [height, width], "counts": segmentation["counts"].encode()}
    return mask_util.decode(rle).astype(bool)


def test_the_toy_coco_file_holds_polygons_rle_a_crowd_region_and_an_empty_image(toy_coco):
    annotations = toy_coco.data["annotations"]
    kinds = {type(a["segmentation"]).__name__ for a in annotations if not a["iscrowd"]}
    assert kinds == {"list", "dict"} and sum(a["iscrowd"] for a in annotations) == 1
    annotated = {a["image_id"] for a in annotations}
    assert len(annotated) == len(toy_coco.data["images"]) - 1


@pytest.mark.parametrize("per_instance", [True, False])
def test_labels_never_mark_known_foreground_where_the_alpha_is_0(toy_coco, per_instance):
    records = _load(toy_coco, per_instance=per_instance)
    for record in records:
        trimap, focus = instance_label(record)
        alpha = _alpha(toy_coco, record)
        assert (trimap == 255).any() and focus.any(), record["image_id"]
        assert (alpha[trimap == 255] > 0).all(), record["image_id"]
        assert set(np.unique(trimap).tolist()) <= {0, 128, 255}


def test_samples_one_per_usable_instance_or_per_image_and_none_without_annotations(toy_coco):
    annotations = toy_coco.data["annotations"]
    usable = [a for a in annotations if not a["iscrowd"] and a["area"] >= MIN_AREA]
    per_instance, per_image = _load(toy_coco), _load(toy_coco, per_instance=False)
    assert len(per_instance) == len(usable)
    assert len(per_image) == len({a["image_id"] for a in usable})
    stems = {r["image_id"].split("_")[0] for r in per_instance}
    last = toy_coco.data["images"][-1]["file_name"].split(".")[0]
    assert last not in stems  # the image without annotations gives no sample
    assert len({r["image_id"] for r in per_instance}) == len(per_instance)


def test_other_instances_and_crowd_regions_are_unknown_not_background(toy_coco):
    crowd = next(a for a in toy_coco.data["annotations"] if a["iscrowd"])
    image = toy_coco.data["images"][crowd["image_id"] - 1]
    height, width = image["height"], image["width"]
    crowd_mask = _decode(crowd["segmentation"], height, width)
    records = [r for r in _load(toy_coco) if r["coco_image_id"] == crowd["image_id"]]
    others = [a for a in toy_coco.data["annotations"] if a["image_id"] == crowd["image_id"]]
    assert records and len(others) >= 2
    for record in records:
        trimap, _ = instance_label(record)
        own = _decode(record[INSTANCE_MASK_KEY]["segmentation"][0], height, width)
        assert (trimap[crowd_mask & ~own] == 128).all()
        for other in others:
            other_mask = _decode(other["segmentation"], height, width) & ~own
            assert not (trimap[other_mask] == 0).any()


def _large_shapes(tmp_path, seed=5) -> list:
    """Samples of a 360 px image holding a disk (polygon, 200 px) and a bar (RLE, 300 px)."""
    write_png(str(tmp_path / "big.png"), np.zeros((360, 360, 3), np.uint8))
    angles = np.linspace(0, 2 * np.pi, 90, endpoint=False)
    disk = np.stack([110 + 100 * np.cos(angles), 110 + 100 * np.sin(angles)], 1).ravel()
    bar = np.zeros((360, 360), np.uint8)
    bar[250:300, 30:330] = 1
    rle = mask_util.encode(np.asfortranarray(bar))
    annotations = [
        {"segmentation": [disk.tolist()]},
        {"segmentation": {"size": [360, 360], "counts": rle["counts"].decode()}},
    ]
    images = [{"id": 1, "file_name": "big.png", "height": 360, "width": 360}]
    json_file = _write_coco(tmp_path, annotations, images, name="big.json")
    return load_coco_matting(json_file, str(tmp_path), seed=seed)


def test_band_widths_follow_the_documented_rule(toy_coco, tmp_path):
    """k_in, k_out ~ U{1..29} from label_rng(seed, image_id); the band reaches
    ceil(k * s / 1280) px (Euclidean) into and out of the mask, s its box's longer side."""
    records = _load(toy_coco, seed=5) + _load(toy_coco, seed=5, per_instance=False)
    widths = set()
    for record in records + _large_shapes(tmp_path):
        height, width = record["height"], record["width"]
        label = record[INSTANCE_MASK_KEY]
        mask = np.zeros((height, width), bool)
        for segmentation in label["segmentation"]:
            mask |= _decode(segmentation, height, width)
        other = np.zeros_like(mask)
        for segmentation in label["unknown"]:
            other |= _decode(segmentation, height, width)
        rows, cols = np.nonzero(mask)
        size = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
        k_in, k_out = label_rng(5, record["image_id"]).integers(1, 30, size=2)
        inner, outer = math.ceil(k_in * size / 1280), math.ceil(k_out * size / 1280)
        widths |= {inner, outer}
        inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        outside = cv2.distanceTransform(
            (~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
        )
        expected = (mask & (inside <= inner)) | (~mask & ((outside <= outer) | other))
        trimap, focus = instance_label(record)
        np.testing.assert_array_equal(trimap == 128, expected, err_msg=record["image_id"])
        np.testing.assert_array_equal(trimap == 255, mask & ~expected)
        band = (mask & (inside <= inner)) | (~mask & (outside <= outer))
        np.testing.assert_array_equal(focus, band)
    assert max(widths) >= 3  # the large shapes' bands are wider than the toy instances' 1-2 px


def test_labels_are_reproducible_from_the_seed_and_change_with_it(tmp_path):
    first = [instance_label(r)[0] for r in _large_shapes(tmp_path, seed=0)]
    again = [instance_label(r)[0] for r in _large_shapes(tmp_path, seed=0)]
    other = [instance_label(r)[0] for r in _large_shapes(tmp_path, seed=1)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_mask_kind_has_no_band(toy_coco):
    record = next(r for r in _load(toy_coco) if not r[INSTANCE_MASK_KEY]["unknown"])
    trimap, _ = instance_label(record, "mask")
    assert set(np.unique(trimap).tolist()) == {0, 255}


def test_mapper_makes_the_trimap_from_the_instance_mask_with_the_config_augmentations(toy_coco):
    records = _load(toy_coco)
    mapper = MattingDatasetMapper(True, augmentations=[UnknownContainingCrop(32), PadToSize(32)])
    np.random.seed(0)
    for record in records[:4]:
        sample = mapper(record)
        assert sample["image"].shape == (3, 32, 32) and sample["trimap"].shape == (1, 32, 32)
        assert set(sample["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}
        assert (sample["trimap"] == 0.5).any()
    assert MattingDatasetMapper(True, label="mask")(records[0])["trimap"].shape == (1, 64, 64)
    with pytest.raises(MattingDataError, match=r"alpha_file_name.*\['trimap', 'mask'\]"):
        MattingDatasetMapper(True, label="alpha")(records[0])


def _position_coded_image(height, width):
    """RGB whose red is the row and green the column: a crop's offset is its first pixel."""
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([rows, cols, np.zeros_like(rows)], axis=2).astype(np.uint8)


def test_per_instance_samples_crop_around_their_own_instance(tmp_path):
    write_png(str(tmp_path / "two.png"), _position_coded_image(96, 96))
    squares = {1: (4, 4, 20), 2: (70, 70, 20)}  # id: (top, left, side)
    annotations = [
        {"id": i, "image_id": 1, "category_id": 1, "area": s * s, "iscrowd": 0,
         "segmentation": [[l, t, l + s, t, l + s, t + s, l, t + s]]}
        for i, (t, l, s) in squares.items()
    ]  # fmt: skip
    coco = {
        "images": [{"id": 1, "file_name": "two.png", "height": 96, "width": 96}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "square"}],
    }
    (tmp_path / "two.json").write_text(json.dumps(coco))
    records = load_coco_matting(str(tmp_path / "two.json"), str(tmp_path), min_area=10)
    mapper = MattingDatasetMapper(True, augmentations=[UnknownContainingCrop(24)])
    np.random.seed(0)
    for record in records:
        top, left, side = squares[int(record["image_id"].split("_")[1])]
        for _ in range(10):
            sample = mapper(record)
            row, col = (np.round(sample["image"][:2, 0, 0] * 255)).int().tolist()
            # the 24 px window contains a pixel of this square's band (within 3 px of its edge)
            assert row <= top + side + 3 and row + 24 > top - 3, record["image_id"]
            assert col <= left + side + 3 and col + 24 > left - 3, record["image_id"]


def test_tool_writes_the_mappers_labels_for_inspection(toy_coco, label_tool, tmp_path):
    output = tmp_path / "labels"
    argv = ["--coco", str(toy_coco.json_file), "--image-root", str(toy_coco.image_root)]
    assert label_tool.main([*argv, "--output", str(output), "--min-area", str(MIN_AREA)]) == 0
    records = _load(toy_coco)
    assert sorted(p.stem for p in output.glob("*.png")) == sorted(r["image_id"] for r in records)
    for record in records:
        written = cv2.imread(str(output / f"{record['image_id']}.png"), cv2.IMREAD_GRAYSCALE)
        np.testing.assert_array_equal(written, instance_label(record)[0])


# --- bad input -----------------------------------------------------------------------------------
def _write_coco(tmp_path, annotations, images=None, name="bad.json"):
    images = images or [{"id": 1, "file_name": "a.png", "height": 40, "width": 40}]
    for image in images:
        if not (tmp_path / image["file_name"]).exists():
            write_png(str(tmp_path / image["file_name"]), np.zeros((40, 40, 3), np.uint8))
    square = [[5, 5, 30, 5, 30, 30, 5, 30]]
    for index, annotation in enumerate(annotations):
        annotation.setdefault("id", index + 1)
        annotation.setdefault("image_id", 1)
        annotation.setdefault("category_id", 1)
        annotation.setdefault("segmentation", square)
    data = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "a"}]}
    (tmp_path / name).write_text(json.dumps(data))
    return str(tmp_path / name)


@pytest.mark.parametrize(
    "content, message",
    [
        ("[1, 2, 3]", r"not a COCO instances file.*lacks \['images', 'annotations'"),
        ('{"images": [], "info": {}}', r"lacks \['annotations', 'categories'\]"),
        ('{"images": {}, "annotations": [], "categories": []}', r"lacks \['images'\]"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_a_json_that_is_not_coco_is_a_clear_error(tmp_path, content, message):
    (tmp_path / "x.json").write_text(content)
    with pytest.raises(MattingDataError, match=message):
        load_coco_matting(str(tmp_path / "x.json"), str(tmp_path))
    with pytest.raises(MattingDataError, match="not found"):
        load_coco_matting(str(tmp_path / "absent.json"), str(tmp_path))


def test_annotations_of_an_unknown_image_id_are_skipped_counted_and_logged(tmp_path, caplog):
    json_file = _write_coco(tmp_path, [{}, {"image_id": 7}, {"image_id": 8}])
    with caplog.at_level(logging.WARNING):
        records = load_coco_matting(json_file, str(tmp_path), min_area=1)
    assert len(records) == 1
    assert "2 annotations of an image id not in 'images'" in caplog.text


def test_missing_image_files_are_listed_in_one_error_or_skipped(tmp_path, caplog):
    images = [
        {"id": 1, "file_name": "a.png", "height": 40, "width": 40},
        {"id": 2, "file_name": "gone.png", "height": 40, "width": 40},
        {"id": 3, "file_name": "lost.png", "height": 40, "width": 40},
    ]
    json_file = _write_coco(tmp_path, [{"image_id": 1}, {"image_id": 2}, {"image_id": 3}], images)
    (tmp_path / "gone.png").unlink()
    (tmp_path / "lost.png").unlink()
    with pytest.raises(MattingDataError, match=r"2 image file\(s\).*gone.png.*lost.png"):
        load_coco_matting(json_file, str(tmp_path), min_area=1)
    with caplog.at_level(logging.WARNING):
        records = load_coco_matting(json_file, str(tmp_path), min_area=1, missing_images="skip")
    assert [r["coco_image_id"] for r in records] == [1] and "2 images whose file" in caplog.text


def test_an_empty_or_unknown_category_selection_is_an_error(tmp_path, toy_coco):
    with pytest.raises(ValueError, match="non-empty list"):
        register_coco_matting("coco_no_category", str(toy_coco.json_file), "x", categories=[])
    assert "coco_no_category" not in DatasetCatalog.list()
    with pytest.raises(MattingDataError, match=r"\['dog'\] are not categories.*\['other', 'toy'\]"):
        _load(toy_coco, categories=["dog", "toy"])
    with pytest.raises(MattingDataError, match="no usable instance"):
        _load(toy_coco, categories=["other"])  # a category without instances
    assert len(_load(toy_coco, categories=["toy"])) == len(_load(toy_coco, categories=[1]))


def test_polygons_with_fewer_than_three_points_and_bad_rles_are_skipped_and_counted(
    tmp_path, caplog
):
    good = [5, 5, 30, 5, 30, 30, 5, 30]
    annotations = [
        {"segmentation": [[5, 5, 30, 5]]},  # 2 points: pycocotools would read it as a box
        {"segmentation": [[5, 5]]},  # 1 point: pycocotools raises
        {"segmentation": [good, [1, 1, 2, 2]]},  # a good part and a bad one: the good one stays
        {"segmentation": {"size": [20, 20], "counts": "abc"}},  # RLE of another size
        {"segmentation": {"size": [40, 40], "counts": "0"}},  # pycocotools decodes garbage
        {"segmentation": {"size": [40, 40], "counts": [100, 5]}},  # runs do not cover 40x40
    ]
    json_file = _write_coco(tmp_path, annotations)
    with caplog.at_level(logging.WARNING):
        records = load_coco_matting(json_file, str(tmp_path), min_area=1)
    assert [r["image_id"] for r in records] == ["a_3"]
    assert records[0][INSTANCE_MASK_KEY]["segmentation"] == [[good]]
    assert "3 polygon parts with fewer than three points" in caplog.text
    assert "5 annotations without a usable segmentation" in caplog.text
    assert "1 RLEs whose size is not their image's" in caplog.text
    assert "2 RLEs with malformed counts" in caplog.text
    trimap, _ = instance_label(records[0])
    assert (trimap == 255).any()


def test_a_coco_entry_whose_size_is_not_the_images_names_both(tmp_path):
    images = [{"id": 1, "file_name": "a.png", "height": 40, "width": 48}]
    write_png(str(tmp_path / "a.png"), np.zeros((40, 40, 3), np.uint8))
    records = load_coco_matting(_write_coco(tmp_path, [{}], images), str(tmp_path), min_area=1)
    with pytest.raises(MattingDataError, match=r"a.png is 40x40 .* says 40x48"):
        MattingDatasetMapper(True)(records[0])


def test_registration_is_lazy_and_lists_on_first_use(tmp_path, toy_coco):
    register_coco_matting("coco_lazy_test", str(tmp_path / "later.json"), str(tmp_path))
    with pytest.raises(MattingDataError, match="later.json"):
        DatasetCatalog.get("coco_lazy_test")
    (tmp_path / "later.json").write_text(toy_coco.json_file.read_text())
    register_coco_matting(
        "coco_lazy_test2", str(tmp_path / "later.json"), str(toy_coco.image_root), min_area=30
    )
    assert len(DatasetCatalog.get("coco_lazy_test2")) == len(_load(toy_coco))
