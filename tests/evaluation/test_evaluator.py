"""Tests of alphafree_matting/evaluation/evaluator.py: MattingEvaluator against the per-image metric
functions, detectron2's inference_on_dataset, no-GT / no-trimap datasets, written files, and the
gather of a 2-process gloo group."""

import csv
import json
import logging
import os

import cv2
import numpy as np
import pytest
import torch
from detectron2.data import DatasetCatalog, build_detection_test_loader
from detectron2.evaluation import inference_on_dataset
from torch import nn

from alphafree_matting.conventions import trimap_to_target
from alphafree_matting.data import MattingDatasetMapper, register_matting_folder
from alphafree_matting.data.io import MattingDataError, read_alpha, read_trimap
from alphafree_matting.evaluation import (
    BENCHMARK_KEYS,
    UNKNOWN_REGION_KEYS,
    MattingEvaluator,
    alpha_on_stored_grid,
    make_grid,
    matting_metrics,
    unknown_region_metrics,
)
from alphafree_matting.evaluation.evaluator import PER_IMAGE_CSV, RESULTS_JSON


def write_sample(folder, image_id, height=24, width=32, seed=0, with_gt=True, with_trimap=True):
    """Write image / alpha / trimap PNGs; return the test dict and the exact float64 arrays."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width]
    radius = np.hypot(rows - height / 2, cols - width / 2)
    alpha_codes = np.clip(np.round((height / 3 - radius) * 60 + 128), 0, 255).astype(np.uint8)
    alpha_codes[0, 0] = 153  # a Conn threshold code: needs float64 GT to match the benchmark
    trimap = np.full((height, width), 128, np.uint8)
    trimap[alpha_codes == 0], trimap[alpha_codes == 255] = 0, 255
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    record = {"file_name": str(folder / f"{image_id}.png"), "image_id": image_id}
    cv2.imwrite(record["file_name"], image)
    if with_gt:
        record["alpha_file_name"] = str(folder / f"{image_id}_alpha.png")
        cv2.imwrite(record["alpha_file_name"], alpha_codes)
    if with_trimap:
        record["trimap_file_name"] = str(folder / f"{image_id}_trimap.png")
        cv2.imwrite(record["trimap_file_name"], trimap)
    gt = alpha_codes / 255.0
    pred = np.clip(gt + rng.normal(0, 0.08, gt.shape), 0, 1).astype(np.float32)
    return record, pred, gt, trimap


def as_output(pred):
    return {"alpha": torch.from_numpy(np.asarray(pred))[None]}


def trimap_as_alpha(record):
    """The trivial predictor: the trimap's 0 / 0.5 / 1 targets as alpha, (H, W) float32."""
    return trimap_to_target(read_trimap(record["trimap_file_name"]))


@pytest.fixture
def samples(tmp_path):
    return [write_sample(tmp_path, f"img{k}", seed=k, width=32 + 4 * k) for k in range(3)]


def expected_means(samples, metric_function):
    rows = [metric_function(pred, gt, trimap) for _, pred, gt, trimap in samples]
    return {key: np.mean([row[key] for row in rows]) for key in rows[0]}


# --- metrics -------------------------------------------------------------------------------------
def test_means_equal_the_mean_of_the_per_image_metric_functions(samples):
    evaluator = MattingEvaluator(dataset_name="tiny")
    evaluator.reset()
    evaluator.process([s[0] for s in samples[:2]], [as_output(s[1]) for s in samples[:2]])
    evaluator.process([samples[2][0]], [as_output(samples[2][1])])
    results = evaluator.evaluate()
    assert list(results) == ["matting"]
    assert list(results["matting"]) == list(BENCHMARK_KEYS)
    expected = expected_means(samples, matting_metrics)
    for key, value in expected.items():
        assert results["matting"][key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_protocol_both_adds_the_unknown_region_keys(samples):
    evaluator = MattingEvaluator(protocol="both")
    evaluator.reset()
    evaluator.process([s[0] for s in samples], [as_output(s[1]) for s in samples])
    means = evaluator.evaluate()["matting"]
    assert list(means) == list(BENCHMARK_KEYS + UNKNOWN_REGION_KEYS)
    expected = expected_means(samples, unknown_region_metrics)
    for key, value in expected.items():
        assert means[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_gt_is_read_back_exactly_as_the_benchmark_png_over_255():
    codes = np.arange(256, dtype=np.uint8)
    float32_alpha = codes.astype(np.float32) / 255.0
    np.testing.assert_array_equal(alpha_on_stored_grid(float32_alpha), codes / 255.0)
    codes16 = np.array([0, 1, 40000, 65535], np.uint16)
    np.testing.assert_array_equal(
        alpha_on_stored_grid(codes16.astype(np.float32) / 65535.0), codes16 / 65535.0
    )
    off_grid = np.array([0.123456, 0.5])
    np.testing.assert_array_equal(alpha_on_stored_grid(off_grid), off_grid)


def test_inference_on_dataset_with_a_trivial_module(samples):
    class TrimapAsAlpha(nn.Module):
        def forward(self, batched_inputs):
            return [as_output(trimap_as_alpha(record)) for record in batched_inputs]

    data_loader = [[s[0]] for s in samples]  # a plain list of one-image batches
    results = inference_on_dataset(TrimapAsAlpha(), data_loader, MattingEvaluator())
    expected = expected_means(
        [(r, trimap_to_target(t), gt, t) for r, _, gt, t in samples], matting_metrics
    )
    for key, value in expected.items():
        assert results["matting"][key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    # The trimap-as-alpha prediction is exact on known pixels: pasting them in changes nothing.
    assert results["matting"]["SAD-T"] == pytest.approx(results["matting"]["SAD"], rel=1e-12)


# --- missing GT / trimap, bad input --------------------------------------------------------------
def test_dataset_without_gt_is_predicted_logged_and_returns_empty(tmp_path, caplog):
    records = [write_sample(tmp_path, f"nogt{k}", seed=k, with_gt=False) for k in range(2)]
    evaluator = MattingEvaluator(output_dir=str(tmp_path / "out"), save_alpha=True, max_visuals=1)
    evaluator.reset()
    with caplog.at_level(logging.INFO, logger="alphafree_matting.evaluation.evaluator"):
        evaluator.process([r[0] for r in records], [as_output(r[1]) for r in records])
        assert evaluator.evaluate() == {}
    messages = [record.getMessage() for record in caplog.records]
    assert sum("No GT alpha" in message for message in messages) == 1  # logged once, not per image
    assert any("2 image(s) without GT" in message for message in messages)
    assert any("no image had a GT alpha" in message for message in messages)
    assert sorted(os.listdir(tmp_path / "out" / "alpha")) == ["nogt0.png", "nogt1.png"]
    assert os.listdir(tmp_path / "out" / "visuals") == ["nogt0.png"]
    assert not (tmp_path / "out" / PER_IMAGE_CSV).exists()


def test_images_without_trimap_skip_only_the_trimap_metrics(tmp_path, caplog):
    with_trimap = write_sample(tmp_path, "a", seed=1)
    without_trimap = write_sample(tmp_path, "b", seed=2, with_trimap=False)
    evaluator = MattingEvaluator()
    evaluator.reset()
    with caplog.at_level(logging.WARNING, logger="alphafree_matting.evaluation.evaluator"):
        evaluator.process(
            [with_trimap[0], without_trimap[0]],
            [as_output(with_trimap[1]), as_output(without_trimap[1])],
        )
    assert any("No trimap" in record.getMessage() for record in caplog.records)
    means = evaluator.evaluate()["matting"]
    first = matting_metrics(*with_trimap[1:])
    second = matting_metrics(without_trimap[1], without_trimap[2])
    assert "SAD-T" not in second
    assert means["SAD"] == pytest.approx((first["SAD"] + second["SAD"]) / 2)
    assert means["SAD-T"] == pytest.approx(first["SAD-T"])  # mean over the image that has it


def test_prediction_of_another_size_is_an_error_naming_the_files(samples):
    record, pred, _, _ = samples[0]
    evaluator = MattingEvaluator()
    with pytest.raises(MattingDataError, match="img0.*never resizes"):
        evaluator.process([record], [as_output(pred[:-2])])


def test_constructor_rejects_unknown_protocol_and_outputs_without_output_dir():
    with pytest.raises(ValueError, match="protocol"):
        MattingEvaluator(protocol="sad-t")
    with pytest.raises(ValueError, match="output_dir"):
        MattingEvaluator(save_alpha=True)


# --- written files -------------------------------------------------------------------------------
def test_saved_alpha_png_is_rounded_not_floored(tmp_path):
    record, _, _, _ = write_sample(tmp_path, "r", height=4, width=4)
    pred = np.full((4, 4), 100.6 / 255, np.float32)
    evaluator = MattingEvaluator(output_dir=str(tmp_path / "out"), save_alpha=True)
    evaluator.process([record], [as_output(pred)])
    saved = cv2.imread(str(tmp_path / "out" / "alpha" / "r.png"), cv2.IMREAD_UNCHANGED)
    assert saved.dtype == np.uint8
    np.testing.assert_array_equal(saved, 101)


def test_visual_grids_are_written_for_the_first_max_visuals_images(samples, tmp_path):
    out = tmp_path / "out"
    evaluator = MattingEvaluator(output_dir=str(out), max_visuals=2)
    evaluator.reset()
    for record, pred, _, _ in samples:
        evaluator.process([record], [as_output(pred)])
    assert sorted(os.listdir(out / "visuals")) == ["img0.png", "img1.png"]
    for record, pred, gt, trimap in samples[:2]:
        written = cv2.imread(str(out / "visuals" / f"{record['image_id']}.png"))
        image = cv2.cvtColor(cv2.imread(record["file_name"]), cv2.COLOR_BGR2RGB)
        assert written.shape == make_grid(image, trimap, pred, gt).shape


def test_per_image_csv_and_results_json_hold_rows_and_means(samples, tmp_path):
    out = tmp_path / "out"
    evaluator = MattingEvaluator(dataset_name="tiny", output_dir=str(out))
    evaluator.reset()
    evaluator.process([s[0] for s in samples], [as_output(s[1]) for s in samples])
    means = evaluator.evaluate()["matting"]
    with open(out / PER_IMAGE_CSV) as handle:
        rows = list(csv.DictReader(handle))
    assert [row["image_id"] for row in rows] == ["img0", "img1", "img2"]
    assert float(rows[1]["Conn"]) == pytest.approx(matting_metrics(*samples[1][1:])["Conn"])
    summary = json.loads((out / RESULTS_JSON).read_text())
    assert summary["dataset"] == "tiny" and summary["num_images"] == 3
    assert summary["metrics"] == pytest.approx(dict(means))


# --- distributed gather --------------------------------------------------------------------------
def _gather_worker(rank, world_size, folder, samples_per_rank):
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world_size
    )
    try:
        evaluator = MattingEvaluator(output_dir=os.path.join(folder, "out"), max_visuals=3)
        evaluator.reset()
        for record, pred in samples_per_rank[rank]:
            evaluator.process([record], [as_output(pred)])
        results = evaluator.evaluate()
        with open(os.path.join(folder, f"results_rank{rank}.json"), "w") as handle:
            json.dump(results, handle)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.slow  # two spawned processes import torch + detectron2: ~50 s on 2 shared cores
def test_two_gloo_processes_gather_all_rows_to_the_main_process(samples, tmp_path):
    # images 0 and 2 on rank 0, image 1 on rank 1
    samples_per_rank = [[samples[0][:2], samples[2][:2]], [samples[1][:2]]]
    torch.multiprocessing.spawn(
        _gather_worker, args=(2, str(tmp_path), samples_per_rank), nprocs=2, join=True
    )
    main = json.loads((tmp_path / "results_rank0.json").read_text())
    assert json.loads((tmp_path / "results_rank1.json").read_text()) == {}
    for key, value in expected_means(samples, matting_metrics).items():
        assert main["matting"][key] == pytest.approx(value, rel=1e-12, abs=1e-15), key
    with open(tmp_path / "out" / PER_IMAGE_CSV) as handle:
        image_ids = sorted(row["image_id"] for row in csv.DictReader(handle))
    assert image_ids == ["img0", "img1", "img2"]
    # max_visuals=3 over 2 ranks: 2 on rank 0, 1 on rank 1 -> every image drawn once
    assert sorted(os.listdir(tmp_path / "out" / "visuals")) == ["img0.png", "img1.png", "img2.png"]


# --- real images ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_real_alphamatting_images_with_trimap_as_alpha_give_plausible_numbers(
    real_matting_dir, tmp_path
):
    names = sorted(os.listdir(real_matting_dir / "alpha"))
    assert len(names) == 27
    records = [
        {
            "file_name": str(real_matting_dir / "image" / name),
            "image_id": os.path.splitext(name)[0],
            "alpha_file_name": str(real_matting_dir / "alpha" / name),
            "trimap_file_name": str(real_matting_dir / "trimap" / name),
        }
        for name in names
    ]
    evaluator = MattingEvaluator(
        dataset_name="alphamatting_lowres", output_dir=str(tmp_path), protocol="both", max_visuals=1
    )
    evaluator.reset()
    unknown_counts = {}
    for record in records:
        pred = trimap_as_alpha(record)
        unknown_counts[record["image_id"]] = (int((pred == 0.5).sum()), pred.size)
        evaluator.process([record], [as_output(pred)])
    means = evaluator.evaluate()["matting"]
    with open(tmp_path / PER_IMAGE_CSV) as handle:
        rows = {
            row["image_id"]: {k: float(v) for k, v in row.items() if k != "image_id"}
            for row in csv.DictReader(handle)
        }
    assert len(rows) == 27
    for image_id, row in rows.items():
        assert all(np.isfinite(value) and value >= 0 for value in row.values()), image_id
        num_unknown, num_pixels = unknown_counts[image_id]
        # The prediction already equals the trimap on known pixels, so pasting them in is a no-op
        # for every image, GT27 included.
        assert row["SAD-T"] == pytest.approx(row["SAD"], rel=1e-9), image_id
        assert row["MSE-T"] * num_unknown == pytest.approx(row["MSE"] * num_pixels, rel=1e-9)
        # Each unknown pixel is off by |0.5 - gt| <= 0.5.
        assert row["SAD(unknown)"] <= 0.5 * num_unknown / 1000
        assert row["MSEx1e3(unknown)"] <= 250
        # SAD - SAD(unknown) is the error on known pixels = where the GT disagrees with the
        # trimap: a few pixels at most for GT01-GT26, a large floor for GT27 (noisy known GT).
        known_error = row["SAD"] - row["SAD(unknown)"]
        if image_id == "GT27":
            assert known_error > 0.1
        else:
            assert known_error < 0.005, image_id
    assert means["SAD"] == pytest.approx(np.mean([row["SAD"] for row in rows.values()]))
    assert os.listdir(tmp_path / "visuals") == ["GT01.png"]


class TrimapAsAlpha(torch.nn.Module):
    """A trivial predictor: the input trimap's 0 / 0.5 / 1 as the alpha."""

    def forward(self, batched_inputs):
        return [{"alpha": item["trimap"].double()} for item in batched_inputs]


@pytest.mark.slow
def test_real_images_through_a_registered_folder_dataset_and_the_test_loader(
    real_matting_dir, tmp_path
):
    name = "alphamatting_lowres_trimap1"
    if name not in DatasetCatalog.list():
        register_matting_folder(name, str(real_matting_dir), labels=("alpha", "trimap"))
    loader = build_detection_test_loader(
        dataset=DatasetCatalog.get(name), mapper=MattingDatasetMapper(False, trimap_input=True)
    )
    evaluator = MattingEvaluator(dataset_name=name, output_dir=str(tmp_path), max_visuals=2)
    results = inference_on_dataset(TrimapAsAlpha(), loader, evaluator)["matting"]
    assert set(results) == {"SAD", "MSE", "MAD", "Grad", "Conn", "SAD-T", "MSE-T"}
    # The same numbers as scoring the files directly (the loader path adds nothing).
    expected = []
    for image_name in sorted(os.listdir(real_matting_dir / "alpha")):
        record = {
            "alpha_file_name": str(real_matting_dir / "alpha" / image_name),
            "trimap_file_name": str(real_matting_dir / "trimap" / image_name),
        }
        gt = read_alpha(record["alpha_file_name"]).astype(np.float64)
        gt = np.round(gt * 255) / 255
        trimap = read_trimap(record["trimap_file_name"])
        expected.append(matting_metrics(trimap_as_alpha(record), gt, trimap))
    for key in results:
        assert results[key] == pytest.approx(np.mean([row[key] for row in expected]), rel=1e-6)
    assert len(os.listdir(tmp_path / "visuals")) == 2
