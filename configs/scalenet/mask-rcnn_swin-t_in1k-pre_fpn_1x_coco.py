# Mask R-CNN + FPN, COCO, 1x.
# Control arm: plain Swin-T from the ImageNet stage that trained it 100 more epochs
# (swin-t_in1k-pre_8xb128-100e_in1k.py), every weight trained. Drop-path as the Swin-T recipe: 0.2.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', prefix='backbone.',
                                checkpoint='work_dirs/swin-t_in1k-pre_8xb128-100e_in1k/epoch_100.pth')))
