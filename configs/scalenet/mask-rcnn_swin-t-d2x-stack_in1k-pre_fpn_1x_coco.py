# Mask R-CNN + FPN, COCO, 1x.
# Baseline arm "stack": untied Swin-T-2x (copies of Swin-T's blocks before its ImageNet stage,
# swin-t-d2x-stack_in1k-pre_8xb128-100e_in1k.py), every weight trained. Drop-path 0.3.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
# the ImageNet stage's last checkpoint, as tools/train.py writes it when run from the repository root
imagenet_checkpoint = 'work_dirs/swin-t-d2x-stack_in1k-pre_8xb128-100e_in1k/epoch_100.pth'
model = dict(
    backbone=dict(depth_scale=2, unshare=True, drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint, prefix='backbone.')))
