# UperNet + ScaleNet-DeiT-S-2x (24 positions sharing DeiT-S's 12 layers, parallel adapters on fc1/fc2),
# ADE20K 512x512, 80k, on the recipe of upernet_deit-s_8xb2-80k_ade20k-512x512.py. The backbone starts from
# its own ImageNet stage (scalenet-deit-s-d2x-frozen_in1k-pre_8xb128-100e_in1k.py, last epoch); the four outputs are
# positions 6, 12, 18, 24 (the same relative depths as the baseline's 3, 6, 9, 12). Full fine-tuning;
# drop-path 0.2: the seed doubles DeiT-S's 0.1 at 2x depth. Not trained yet: no result to report.
_base_ = './upernet_deit-s_8xb2-80k_ade20k-512x512.py'
imagenet_stage = 'work_dirs/scalenet-deit-s-d2x-frozen_in1k-pre_8xb128-100e_in1k/epoch_100.pth'
model = dict(
    backbone=dict(depth_scale=2, out_indices=(5, 11, 17, 23), drop_path_rate=0.2,
                  adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  init_cfg=dict(type='Pretrained', checkpoint=imagenet_stage, prefix='backbone.')))
# adapters are decayed like the linears they adapt
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
