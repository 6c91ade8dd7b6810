# Mask R-CNN + FPN + Swin-T (ScaleNet backbone at depth_scale=1: exactly mmdet's Swin-T), COCO, 1x.
# The reference: mmdet reports box 42.7 / mask 39.3 AP for this recipe.
# Pretrained: Microsoft's official Swin-T ImageNet-1k checkpoint (converted at load; timm/mm files work too).
_base_ = [
    '../_base_/models/mask-rcnn_scalenet_swin_fpn.py', '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/runtimes/mmdet_runtime.py'
]
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'  # noqa
model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained)))

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs)

# learning rate
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[8, 11], gamma=0.1)
]

# optimizer: AdamW, no weight decay on position tables and norms
optim_wrapper = dict(
    type='OptimWrapper',
    paramwise_cfg=dict(
        custom_keys={
            'absolute_pos_embed': dict(decay_mult=0.),
            'relative_position_bias_table': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }),
    optimizer=dict(_delete_=True, type='AdamW', lr=0.0001, betas=(0.9, 0.999), weight_decay=0.05))
