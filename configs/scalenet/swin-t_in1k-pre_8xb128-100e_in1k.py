# Control arm of the ImageNet stage: plain Swin-T trained 100 more epochs from Microsoft's ImageNet-1k
# checkpoint (300 epochs) on the schedule every "+100 epochs" arm uses, so a gain of ScaleNet (which also
# gets 300 + 100 epochs) cannot come from the extra training alone. Drop-path 0.2: Swin-T's own.
# Downstream: mask-rcnn_swin-t_in1k-pre_fpn_1x_coco.py, upernet_swin-t_in1k-pre_8xb2-160k_ade20k-512x512.py
_base_ = './swin-t_8xb128-300e_in1k.py'
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'  # noqa
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head_init=dict(checkpoint=pretrained, prefix='head.'))
max_epochs = 100
warmup_epochs = 5  # the 300-epoch recipe's 20, shortened for a run that starts from trained weights
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=warmup_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
