# ScaleNet-DeiT-S-2x on ImageNet-1k, the seed recipe: grown from Facebook's DeiT-S checkpoint (24 positions
# share its 12 layers cyclically; the head starts from its 1000-class head), shared weights frozen, parallel
# adapters (fc1, fc2, width 16) and LayerNorms trained, drop-path 0.2, 100 epochs. The paper reports 81.13 %
# top-1 for DeiT-S at 24 layers in 100 epochs vs 79.31 % from scratch in 300 (their numbers). Not trained yet.
# Downstream: upernet_scalenet-deit-s-d2x_in1k-pre_8xb2-80k_ade20k-512x512.py
_base_ = './deit-s_8xb128-300e_in1k.py'
pretrained = 'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  trainable='adapters_norms', drop_path_rate=0.2,
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    head_init=dict(checkpoint=pretrained, prefix='head.'))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
max_epochs = 100
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=5)
]
train_cfg = dict(max_epochs=max_epochs)
