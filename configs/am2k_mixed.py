# Mixed supervision on AM-2K: 10 % of the 1,800 training images (180, a seeded choice) keep their
# GT alpha matte (alpha L1), the other 1,620 train from their generated trimap labels (known loss +
# 10 x DDC, on those samples only); otherwise the authors' recipe (configs/am2k_ddc.py).
#   python tools/make_trimap_labels.py --split am2k_train      # the trimap labels, once
#   python tools/lazyconfig_train_net.py --config-file configs/am2k_mixed.py --num-gpus 2
from detectron2.config import LazyCall as L
from detectron2.data.samplers import RepeatFactorTrainingSampler

from alphafree_matting.data import label_repeat_factors

from .am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "am2k_train_alpha10"  # built in: alphafree_matting.data.builtin
dataloader.train.mapper.label = "per_sample"  # each sample: its alpha or its trimap
# Share of the samples per label kind: here the images' own shares (10 / 90); raise "alpha" to
# draw the alpha-labelled images more often (the epoch length stays the same).
dataloader.train.sampler = L(RepeatFactorTrainingSampler)(
    repeat_factors=L(label_repeat_factors)(
        dataset_dicts="${...dataset}", ratios={"alpha": 0.1, "trimap": 0.9}
    )
)
model.criterion.losses = {"known": 1.0, "ddc": 10.0, "alpha_l1": 1.0}
train.output_dir = "./output/am2k_mixed"
