# Demo: a tiny ViTMatte trained from trimap labels (known + DDC loss) on the synthetic toy data,
# on the CPU, in a few minutes. `make demo` runs it; same code path as the paper's configs.
from .common.data.toy import dataloader
from .common.model import model
from .common.optimizer import optimizer
from .common.schedule import step_schedule
from .common.train import train

model.backbone.update(
    img_size=128,
    embed_dim=96,
    depth=4,
    num_heads=3,
    window_size=4,
    window_block_indexes=[0, 2],
    residual_block_indexes=[1, 3],
)
# The detail-capture decoder keeps its structure at a quarter of the paper's widths: at full
# width it costs ~10x the tiny backbone on a CPU.
model.decoder.update(convstream_out=[16, 32, 64], fusion_out=[64, 32, 16, 16])
optimizer.params.num_layers = 4
optimizer.lr = 1e-3

train.update(
    output_dir="./output/demo_ddc",
    max_iter=400,
    eval_period=200,
    log_period=20,
    checkpointer=dict(period=200, max_to_keep=2),
    device="cpu",
    seed=0,  # detectron2 seeds every process from it: the demo is reproducible on the CPU
)
lr_multiplier = step_schedule(train.max_iter, warmup_iters=20)
