# P3M-10K fine-label baseline: p3m_ddc.py supervised by the GT alpha mattes with an L1 loss.
from .p3m_ddc import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset.names = "p3m_train_alpha"
dataloader.train.mapper.label = "alpha"
model.criterion.losses = {"alpha_l1": 1.0}
train.output_dir = "./output/p3m_alpha"
