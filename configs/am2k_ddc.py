# The paper's AM-2K run (Table 1, row "Trimap") as the authors' released code trains it
# (github.com/poppuppy/alpha-free-matting: train.sh, configs/vitmatte_s_am2k_100ep.py,
# configs/common/*.py, engine/mattingtrainer.py): ViTMatte-S from DINO ViT-S/16, trimap labels,
# known loss + 10 x DDC; 2 GPUs x 16 images, 100 epochs; AdamW 5e-4, layer decay 0.65.
#   python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc.py --num-gpus 2
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import MultiStepParamScheduler

from .common.data.am2k import NUM_TRAIN_IMAGES, dataloader
from .common.model import model
from .common.optimizer import optimizer
from .common.train import train

ITERS_PER_EPOCH = NUM_TRAIN_IMAGES / 32  # 1,800 images / (2 GPUs x 16)

train.max_iter = int(100 * ITERS_PER_EPOCH)  # 5625
train.checkpointer.period = int(10 * ITERS_PER_EPOCH)  # 562
train.eval_period = int(10 * ITERS_PER_EPOCH)
train.amp.enabled = True  # mattingtrainer.py: fp16 autocast + GradScaler (bf16 autocast on CPU)
train.ddp.update(broadcast_buffers=True, fp16_compression=True)  # the authors' common/train.py
train.init_checkpoint = "pretrained/dino_vit_s.pth"  # tools/convert_pretrained.py, see README
train.output_dir = "./output/am2k_ddc"

# lr x0.1 at epoch 60, x0.05 at epoch 90; linear warm-up over 250 iterations.
lr_multiplier = L(WarmupParamScheduler)(
    scheduler=L(MultiStepParamScheduler)(
        values=[1.0, 0.1, 0.05],
        milestones=[int(60 * ITERS_PER_EPOCH), int(90 * ITERS_PER_EPOCH)],  # 3375, 5062
        num_updates=train.max_iter,
    ),
    warmup_length=250 / train.max_iter,
    warmup_factor=0.001,
)
