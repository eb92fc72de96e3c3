# The paper's P3M-10K run (Table 3): ViTMatte-S from DINO ViT-S/16, trimap labels, known loss +
# 10 x DDC loss, random 512 crops only, evaluated on P3M-500-NP. The P3M epoch count and lr steps
# were lost in the paper text we have; this uses the AM-2K schedule (100 epochs, steps at 60/90).
from .common.data.p3m import NUM_TRAIN_IMAGES, dataloader
from .common.model import model
from .common.optimizer import optimizer
from .common.schedule import epochs_to_iters, step_schedule
from .common.train import train

train.max_iter = epochs_to_iters(100, NUM_TRAIN_IMAGES, dataloader.train.total_batch_size)
train.checkpointer.period = epochs_to_iters(10, NUM_TRAIN_IMAGES, 16)
train.eval_period = epochs_to_iters(10, NUM_TRAIN_IMAGES, 16)
train.init_checkpoint = "pretrained/dino_vit_s.pth"  # tools/convert_pretrained.py, see README
train.output_dir = "./output/p3m_ddc"
lr_multiplier = step_schedule(train.max_iter, warmup_iters=250)
