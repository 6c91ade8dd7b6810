# Mask R-CNN + FPN, COCO, 1x: ScaleNet-Swin-T-2x (depths (4, 4, 12, 4) sharing Swin-T's blocks, parallel
# adapters fc1/fc2 width 16) grown at load from Microsoft's Swin-T checkpoint, skipping the ImageNet stage
# (no `in1k-pre` field: it starts from the released file, as mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py does);
# parameter-efficient (shared weights frozen, adapters and LayerNorms trained). The chain's version of this
# model, after its ImageNet stage, is mask-rcnn_scalenet-swin-t-d2x-frozen_in1k-pre_fpn_1x_coco.py.
# Drop-path 0.3: 24 positions is Swin-S's depth, whose mmdet recipe uses 0.3.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_tiny_patch4_window7_224.pth'  # noqa
model = dict(
    backbone=dict(depth_scale=2, trainable='adapters_norms', drop_path_rate=0.3,
                  adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
