# ScaleNet-DeiT-B-2x on ImageNet-1k, the seed recipe from Facebook's DeiT-B checkpoint: 24 positions, shared
# weights frozen, adapters and LayerNorms trained, drop-path 0.5, 100 epochs. The paper reports 82.53 % top-1
# in 19.8 h vs 75.11 % from scratch in 89.5 h (their numbers). Not trained yet.
_base_ = './scalenet-deit-s-d2x-frozen_in1k-pre_8xb128-100e_in1k.py'
pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_base_patch16_224-b5f2ef4d.pth'
model = dict(
    backbone=dict(arch='deit-base', drop_path_rate=0.5, init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    in_channels=768,
    head_init=dict(checkpoint=pretrained, prefix='head.'))
