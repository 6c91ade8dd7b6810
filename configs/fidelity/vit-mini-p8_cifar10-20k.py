# Experiment 1 on a ViT with a schedule that converges (fidelity round 3; the round-2 ViT run,
# vit-mini_cifar10-20k.py, left 2 epochs at the peak learning rate). Shrunk so that a source trained to
# convergence and five arms fit a CPU session: DeiT-Tiny's width (192, 3 heads) at 4 layers (the 2x arms: 8),
# patch 8 on 32x32 images (16 patch tokens + the class token), class-token head, as DeiT. A ViT-sized
# learning rate (1e-3 at batch 128, half the Swin's), 2 warm-up epochs, then a cosine stepped every iteration
# (not every epoch) to 1e-5, 30 epochs for the source (the arms: 10).
_base_ = './vit-mini_cifar10-20k.py'
max_epochs = 30
model = dict(backbone=dict(arch=dict(num_layers=4), patch_size=8))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=2, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
