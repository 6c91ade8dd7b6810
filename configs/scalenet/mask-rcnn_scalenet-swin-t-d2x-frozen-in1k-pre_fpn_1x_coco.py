# Mask R-CNN + FPN, COCO, 1x.
# ScaleNet-Swin-T-2x, parameter-efficient (the seed's recipe): from its ImageNet stage
# (scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k.py), shared weights frozen, adapters and LayerNorms
# (and the neck and heads) trained. Drop-path 0.3 as the other 2x arms.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
# the ImageNet stage's last checkpoint, as tools/train.py writes it when run from the repository root
imagenet_checkpoint = 'work_dirs/scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k/epoch_100.pth'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  trainable='adapters_norms', drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint, prefix='backbone.')))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
