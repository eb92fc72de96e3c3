# Known loss + 10 x DDC from COCO instance masks instead of trimap files: the animal instances of
# COCO train2017 (detectron2's layout under $DETECTRON2_DATASETS/coco), each a sample whose
# trimap label is a band around its mask (alphafree_matting.data.coco); evaluated on AM-2K's
# validation alphas. Everything else is configs/am2k_ddc.py (the authors' recipe and schedule).
#   python tools/lazyconfig_train_net.py --config-file configs/coco_animals_ddc.py --num-gpus 2
from .am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

# built in (alphafree_matting.data.builtin): the animal categories of COCO train2017
dataloader.train.dataset.names = "coco_animals_train"  # the only change to the data path
train.output_dir = "./output/coco_animals_ddc"
