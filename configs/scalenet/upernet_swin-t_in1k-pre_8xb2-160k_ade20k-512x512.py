# UperNet, ADE20K 512x512, 160k.
# Control arm: plain Swin-T from the ImageNet stage that trained it 100 more epochs
# (swin-t_in1k-pre_8xb128-100e_in1k.py), every weight trained. Drop-path as the Swin-T recipe: 0.3.
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(init_cfg=dict(type='Pretrained', prefix='backbone.',
                                checkpoint='work_dirs/swin-t_in1k-pre_8xb128-100e_in1k/epoch_100.pth')))
