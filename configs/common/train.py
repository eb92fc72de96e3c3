# Training-loop settings read by tools/lazyconfig_train_net.py (detectron2's convention).
train = dict(
    output_dir="./output",
    init_checkpoint="",
    max_iter=90000,
    amp=dict(enabled=False),  # CUDA: float16 AMPTrainer; CPU: bfloat16 autocast
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    checkpointer=dict(period=5000, max_to_keep=100),
    eval_period=5000,
    log_period=20,
    device="cuda",
    seed=-1,  # < 0: a random seed per run; >= 0: every process seeded with seed + rank
)
