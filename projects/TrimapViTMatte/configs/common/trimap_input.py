# Interactive matting (the paper's future work): the trimap is a 4th input channel of ViTMatte
# as well as the label. These helpers turn an automatic-matting config into that setting.
from detectron2.config import LazyCall as L

from alphafree_matting.data import BUILTIN_SPLITS, load_matting_folder
from alphafree_matting.data.builtin import builtin_split_root


def use_trimap_input(model, dataloader):
    """Feed the trimap to the model (training and test) and score the unknown region only."""
    model.trimap_input = True
    model.backbone.in_chans = 4  # model.decoder.img_chans follows by interpolation
    dataloader.train.mapper.trimap_input = True
    dataloader.test.mapper.trimap_input = True
    dataloader.evaluator.protocol = "unknown_region"


def supervise_with_alpha(model, dataloader, split, alpha_dir):
    """The fine-label baseline: GT alpha as the label (L1), the same trimaps as the input.

    Args:
        split: a built-in training split with trimap labels (its images and trimap folder).
        alpha_dir: the split folder's GT alpha subfolder.
    """
    trimap_dir = dict(BUILTIN_SPLITS[split].label_dirs)["trimap"]
    dataloader.train.dataset = L(load_matting_folder)(
        root=L(builtin_split_root)(name=split),  # resolves $DETECTRON2_DATASETS at run time
        image_dir=BUILTIN_SPLITS[split].image_dir,
        label_dirs={"trimap": trimap_dir, "alpha": alpha_dir},
    )
    dataloader.train.mapper.label = "alpha"
    model.criterion.losses = {"alpha_l1": 1.0}
