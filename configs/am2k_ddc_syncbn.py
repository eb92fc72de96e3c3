# am2k_ddc.py on any number of GPUs: the same total batch (32), lr and schedule, with the
# decoder's BatchNorm statistics synchronised over all GPUs (over the 32 images; the authors'
# 2 GPUs x 16 normalise over 16 per GPU). --num-gpus 2 with am2k_ddc.py is the authors' code
# exactly.
#   python tools/lazyconfig_train_net.py --config-file configs/am2k_ddc_syncbn.py --num-gpus 8
from .am2k_ddc import dataloader, lr_multiplier, model, optimizer, train

model.decoder.norm = "SyncBN"  # torch.nn.SyncBatchNorm (CUDA); "naiveSyncBN" also runs on CPU
train.output_dir = "./output/am2k_ddc_syncbn"
