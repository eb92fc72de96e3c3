# The supervision-policy study at CPU scale (make ablation -> docs/ablation.md), its base and the
# paper's policy: known + 10 x DDC (window 11) from trimap labels. The demo's tiny ViTMatte and lr,
# from random weights, on the harder synthetic data (several hundred 128 px composites with
# strands, soft edges, veils and high-frequency texture in both layers). The other policies of
# Tables 1 and 4 are the configs next to this one. Budget: as many iterations as a 30-minute
# target for the five policies on 2 cores allows (the measured time: docs/ablation.md).
# Data: python tools/make_toy_dataset.py --output datasets/toy_ablation --num-train 600 --num-val 50
from detectron2.config import LazyCall as L

from alphafree_matting.data import RandomHFlip, UnknownContainingCrop

from ....configs.common.data.matting import matting_dataloader
from ....configs.common.schedule import step_schedule
from ....configs.demo_ddc import model, optimizer, train

# Built-in splits of $DETECTRON2_DATASETS/toy_ablation/{train,val}/{image,trimap,alpha}: the
# training images with trimap labels (toy_ablation_train) or GT alphas (_train_alpha, the
# fine-label baseline), and the held-out split (toy_ablation_val).
dataloader = matting_dataloader(
    "toy_ablation_train",
    "toy_ablation_val",
    total_batch_size=8,
    num_workers=1,
    augmentations=[
        L(UnknownContainingCrop)(crop_size=96, unknown_bias=1.0),
        L(RandomHFlip)(prob=0.5),
    ],
    max_visuals=0,
)
dataloader.evaluator.save_alpha = True  # the report's grid and error analyses read them

train.update(
    output_dir="./output/ablation/known_ddc",
    max_iter=800,
    eval_period=100,
    checkpointer=dict(period=800, max_to_keep=1),
    seed=0,
)
lr_multiplier = step_schedule(train.max_iter, warmup_iters=20)
