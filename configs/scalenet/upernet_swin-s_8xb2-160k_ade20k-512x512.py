# UperNet, ADE20K 512x512, 160k with plain Swin-S: the baseline a user would pick instead of Swin-T-2x (at 224:
# 8.7 GFLOPs vs 8.8 for Swin-T-2x without adapters, 9.3 with). mmseg's converted Swin-S checkpoint; mmseg
# reports 47.72 mIoU for this recipe. Drop-path 0.3 as mmseg's.
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
checkpoint_file = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_small_patch4_window7_224_20220317-7ba6d6dd.pth'  # noqa
model = dict(backbone=dict(arch='small', init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
