# Source model of the GPU-scaled fidelity experiment (tools/analysis/fidelity_experiment_gpu.sh): a Swin of
# Swin-T width (96, heads 3-6-12-24) but depths (2, 2, 2, 2), patch 4, window 7, at 224x224, trained from
# scratch on ImageNet-format data (train/<class>/, val/<class>/; e.g. an ImageNet-100 subset) with the
# ImageNet recipe's augmentation (RandAugment, Mixup/CutMix, random erasing). One GPU, batch 128.
_base_ = ['../scalenet/swin-t_8xb128-300e_in1k.py']
data_root = 'data/imagenet'
max_epochs = 30
warmup_epochs = 3
model = dict(backbone=dict(arch=dict(_delete_=True, embed_dims=96, depths=(2, 2, 2, 2), num_heads=(3, 6, 12, 24)),
                           adapter=None, drop_path_rate=0.1))
train_dataloader = dict(batch_size=128, dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=1e-3 * 128 / 1024 * 4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=warmup_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs, save_best=None))
