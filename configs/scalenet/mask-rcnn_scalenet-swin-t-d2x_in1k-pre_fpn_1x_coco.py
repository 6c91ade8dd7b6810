# Mask R-CNN + FPN, COCO, 1x.
# ScaleNet-Swin-T-2x (depths (4, 4, 12, 4) sharing Swin-T's blocks, parallel adapters fc1/fc2 width 16),
# fine-tuned whole from its ImageNet stage (scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k.py):
# shared weights, adapters and norms all trained. Drop-path 0.3: 24 positions is Swin-S's depth, whose
# mmdet recipe uses 0.3.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
# the ImageNet stage's last checkpoint, as tools/train.py writes it when run from the repository root
imagenet_checkpoint = 'work_dirs/scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k/epoch_100.pth'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint, prefix='backbone.')))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
