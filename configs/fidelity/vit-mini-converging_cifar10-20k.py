# Experiment 1 on the DeiT-Tiny-wide ViT with a schedule that converges (fidelity round 3; the round-2 ViT run,
# vit-mini_cifar10-20k.py, left 2 epochs at the peak learning rate): a ViT-sized learning rate (1e-3 at batch
# 128, half the Swin's), 2 warm-up epochs, then a cosine stepped every iteration (not every epoch) to 1e-5,
# 30 epochs for the source (the arms: 10). The GPU script runs this size; vit-mini-p8_cifar10-20k.py is its
# CPU-sized shrink.
_base_ = './vit-mini_cifar10-20k.py'
max_epochs = 30
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=2, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
