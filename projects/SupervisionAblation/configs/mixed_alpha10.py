# Mixed supervision at CPU scale: 10 % of the training images (60 of 600, a seeded choice) keep
# their GT alpha (alpha L1), the other 90 % their trimap labels (known + 10 x DDC on those samples
# only); the same images, budget and seed as the other policies (docs/mixed_supervision/).
from .known_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "toy_ablation_train_alpha10"  # built in
dataloader.train.mapper.label = "per_sample"
model.criterion.losses = {"known": 1.0, "ddc": 10.0, "alpha_l1": 1.0}
train.output_dir = "./output/ablation/mixed_alpha10"
