# Mask R-CNN + FPN, COCO, 3x multi-scale + crop: ScaleNet-Swin-T-2x fine-tuned whole from its ImageNet stage
# (see mask-rcnn_scalenet-swin-t-d2x_in1k-pre_fpn_1x_coco.py). mmdet reports box 46.0 / mask 41.6 for Swin-T 3x.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
# the ImageNet stage's last checkpoint, as tools/train.py writes it when run from the repository root
imagenet_checkpoint = 'work_dirs/scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k/epoch_100.pth'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint, prefix='backbone.')))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
