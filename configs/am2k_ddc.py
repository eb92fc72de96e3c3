# The paper's AM-2K run (Table 1, row "Trimap"): ViTMatte-S from DINO ViT-S/16, trimap labels,
# known loss + 10 x DDC loss; AdamW 5e-4, layer decay 0.65, batch 16, 100 epochs, lr x0.1 at
# epoch 60 and x0.05 at 90, 250 warm-up iterations. (The authors' release runs 5,625 iterations
# of 2 GPUs x 16 images: the same 100 epochs at twice the batch.)
#   python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py --num-gpus 8
from .common.data.am2k import NUM_TRAIN_IMAGES, dataloader
from .common.model import model
from .common.optimizer import optimizer
from .common.schedule import epochs_to_iters, step_schedule
from .common.train import train

train.max_iter = epochs_to_iters(100, NUM_TRAIN_IMAGES, dataloader.train.total_batch_size)
train.checkpointer.period = epochs_to_iters(10, NUM_TRAIN_IMAGES, 16)
train.eval_period = epochs_to_iters(10, NUM_TRAIN_IMAGES, 16)
train.init_checkpoint = "pretrained/dino_vit_s.pth"  # tools/convert_pretrained.py, see README
train.output_dir = "./output/am2k_ddc"
lr_multiplier = step_schedule(train.max_iter, warmup_iters=250)
