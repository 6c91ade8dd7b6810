# Mask R-CNN + FPN, COCO, 3x multi-scale + crop: ScaleNet-Swin-S-2x (depths (4, 4, 36, 4) sharing Swin-S's
# blocks, adapters everywhere) grown at load from Microsoft's Swin-S checkpoint, with no ImageNet stage of its
# own; parameter-efficient (shared weights frozen, adapters and LayerNorms trained). mmdet: Swin-S 3x box
# 48.2 / mask 43.2. Drop-path 0.3 as mmdet's Swin-S recipe.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_small_patch4_window7_224.pth'  # noqa
model = dict(
    backbone=dict(arch='small', depth_scale=2, trainable='adapters_norms', drop_path_rate=0.3,
                  adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
