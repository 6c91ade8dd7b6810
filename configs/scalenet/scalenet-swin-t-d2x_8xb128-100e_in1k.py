# ScaleNet-Swin-T-2x on ImageNet-1k: 100 epochs starting from a pretrained Swin-T (the official checkpoint,
# expanded at load: the 24 positions share Swin-T's 12 blocks; the head starts from its 1000-class head),
# seed recipe: shared weights frozen, adapters (parallel, fc1/fc2, dim 16) and LayerNorms trained (the head
# too). Warm-up shortened to 5 epochs for the 100-epoch schedule. Its checkpoint is what the detection and
# segmentation ScaleNet configs start from:
# init_cfg=dict(type='Pretrained', checkpoint='<work_dir>/epoch_100.pth', prefix='backbone.').
_base_ = './swin-t_8xb128-300e_in1k.py'
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'  # noqa
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  trainable='adapters_norms', init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head_init=dict(checkpoint=pretrained, prefix='head.'))
max_epochs = 100
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=warmup_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
