# The synthetic toy data (`make demo` writes it with tools/make_toy_dataset.py): 128 px composites,
# trimap labels for training, GT alpha + trimap for evaluation.
from detectron2.config import LazyCall as L
from detectron2.data import (
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from omegaconf import OmegaConf

from alphafree_matting.data import MattingDatasetMapper
from alphafree_matting.evaluation import MattingEvaluator

dataloader = OmegaConf.create()
dataloader.train = L(build_detection_train_loader)(
    dataset=L(get_detection_dataset_dicts)(names="toy_matting_train"),
    mapper=L(MattingDatasetMapper)(
        is_train=True, crop_size=96, scale_range=None, hflip_prob=0.5, label="trimap"
    ),
    total_batch_size=8,
    aspect_ratio_grouping=False,
    num_workers=2,
)
dataloader.test = L(build_detection_test_loader)(
    dataset=L(get_detection_dataset_dicts)(names="toy_matting_val", filter_empty=False),
    mapper=L(MattingDatasetMapper)(is_train=False),
    num_workers=0,
)
dataloader.evaluator = L(MattingEvaluator)(
    dataset_name="${..test.dataset.names}",
    output_dir="${...train.output_dir}/eval",
    max_visuals=4,
)
