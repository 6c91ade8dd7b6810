# UperNet, ADE20K 512x512, 160k.
# ScaleNet-Swin-T-2x fine-tuned whole from its ImageNet stage (as ...-d2x-in1k-pre) with layer-wise lr
# decay 0.9 over the 26 layers (patch embedding, 24 positions, output norms; see get_layer_depth): the
# early positions, whose shared blocks also serve later ones, move least. For a like-for-like comparison
# give the baselines the same constructor (--cfg-options, see the README).
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
# the ImageNet stage's last checkpoint, as tools/train.py writes it when run from the repository root
imagenet_checkpoint = 'work_dirs/scalenet-swin-t-d2x-frozen_in1k-pre_8xb128-100e_in1k/epoch_100.pth'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  drop_path_rate=0.3,
                  init_cfg=dict(type='Pretrained', checkpoint=imagenet_checkpoint, prefix='backbone.')))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(constructor='scalenet_mm.LayerDecayOptimWrapperConstructor',
                     paramwise_cfg=dict(layer_decay_rate=0.9, custom_keys={'.adapters.': dict(decay_mult=1.0)}))
