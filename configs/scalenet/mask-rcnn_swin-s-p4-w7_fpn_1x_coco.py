# Mask R-CNN + FPN, COCO, 1x with plain Swin-S: the baseline a user would pick instead of Swin-T-2x (at 224:
# 8.7 GFLOPs vs 8.8 for Swin-T-2x without adapters, 9.3 with). Microsoft's Swin-S ImageNet-1k checkpoint;
# drop-path 0.3 as mmdet's Swin-S Mask R-CNN recipe.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_small_patch4_window7_224.pth'  # noqa
model = dict(backbone=dict(arch='small', drop_path_rate=0.3, init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
