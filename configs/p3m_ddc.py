# The paper's P3M-10K run (Table 3): ViTMatte-S from DINO ViT-S/16, trimap labels, known loss +
# 10 x DDC, evaluated on P3M-500-NP. The authors' code has no P3M config: the model, loss,
# optimizer, batch (2 GPUs x 16), precision and crop are the authors' AM-2K ones; the 100 epochs
# with lr steps at epochs 60 / 90 are ours (the paper text we have lost its P3M schedule).
from .am2k_ddc import lr_multiplier, model, optimizer, train
from .common.data.p3m import NUM_TRAIN_IMAGES, dataloader

ITERS_PER_EPOCH = NUM_TRAIN_IMAGES / 32  # 9,421 images / (2 GPUs x 16)

train.max_iter = int(100 * ITERS_PER_EPOCH)  # 29440
train.checkpointer.period = int(10 * ITERS_PER_EPOCH)
train.eval_period = int(10 * ITERS_PER_EPOCH)
train.output_dir = "./output/p3m_ddc"
lr_multiplier.scheduler.milestones = [int(60 * ITERS_PER_EPOCH), int(90 * ITERS_PER_EPOCH)]
lr_multiplier.scheduler.num_updates = train.max_iter
lr_multiplier.warmup_length = 250 / train.max_iter
