# UperNet, ADE20K 512x512, 160k.
# Baseline arm "stack": untied Swin-T-2x (copies of Swin-T's blocks before its ImageNet stage,
# swin-t-d2x-stack_in1k-pre_8xb128-100e_in1k.py), every weight trained. Drop-path 0.3.
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
# the ImageNet stage's last checkpoint, as tools/train.py writes it when run from the repository root
imagenet_checkpoint = 'work_dirs/swin-t-d2x-stack_in1k-pre_8xb128-100e_in1k/epoch_100.pth'
model = dict(
    backbone=dict(depth_scale=2, unshare=True, drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint, prefix='backbone.')))
