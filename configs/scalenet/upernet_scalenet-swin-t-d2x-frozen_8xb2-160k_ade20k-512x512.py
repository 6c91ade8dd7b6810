# UperNet, ADE20K 512x512, 160k: ScaleNet-Swin-T-2x (depths (4, 4, 12, 4) sharing Swin-T's blocks, parallel
# adapters fc1/fc2 width 16) grown at load from mmseg's Swin-T checkpoint (Microsoft's weights, converted),
# skipping the ImageNet stage (no `in1k-pre` field: it starts from the released file, as
# upernet_swin-t_8xb2-160k_ade20k-512x512.py does); parameter-efficient (shared weights frozen, adapters and
# LayerNorms trained). The chain's version of this model, after its ImageNet stage, is
# upernet_scalenet-swin-t-d2x-frozen_in1k-pre_8xb2-160k_ade20k-512x512.py. Drop-path 0.3 as Swin-T's recipe.
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
checkpoint_file = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220317-1cdeb081.pth'  # noqa
model = dict(
    backbone=dict(depth_scale=2, trainable='adapters_norms', drop_path_rate=0.3,
                  adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
