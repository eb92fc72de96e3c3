# The matting data path as detectron2 loaders: registered split -> MattingDatasetMapper ->
# build_detection_{train,test}_loader, and the MattingEvaluator on the test split.
# Dataset configs (am2k.py, p3m.py, toy.py) call `matting_dataloader` with their splits and recipe.
from detectron2.config import LazyCall as L
from detectron2.data import (
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from omegaconf import OmegaConf

from alphafree_matting.data import MattingDatasetMapper
from alphafree_matting.evaluation import MattingEvaluator


def matting_dataloader(
    train, test, *, total_batch_size, num_workers, augmentations, label="trimap", max_visuals=8
):
    """dataloader.{train,test,evaluator} for training on split `train`, evaluating on `test`,
    with the training mapper's list of detectron2 augmentations."""
    dataloader = OmegaConf.create()
    dataloader.train = L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names=train),
        mapper=L(MattingDatasetMapper)(is_train=True, augmentations=augmentations, label=label),
        total_batch_size=total_batch_size,
        aspect_ratio_grouping=False,
        num_workers=num_workers,
    )
    dataloader.test = L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names=test, filter_empty=False),
        mapper=L(MattingDatasetMapper)(is_train=False),
        num_workers=min(num_workers, 2),
    )
    dataloader.evaluator = L(MattingEvaluator)(
        dataset_name="${..test.dataset.names}",
        output_dir="${...train.output_dir}/eval",
        max_visuals=max_visuals,
    )
    return dataloader
