# The synthetic toy data (`make demo` writes it with tools/make_toy_dataset.py): 128 px composites,
# trimap labels for training, GT alpha + trimap for evaluation.
from .matting import matting_dataloader

dataloader = matting_dataloader(
    "toy_matting_train",
    "toy_matting_val",
    total_batch_size=8,
    num_workers=1,
    crop_size=96,
    hflip_prob=0.5,
    max_visuals=4,
)
