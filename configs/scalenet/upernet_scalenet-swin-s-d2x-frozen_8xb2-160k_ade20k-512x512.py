# UperNet, ADE20K 512x512, 160k: ScaleNet-Swin-S-2x (depths (4, 4, 36, 4) sharing Swin-S's blocks, adapters
# everywhere) grown at load from mmseg's Swin-S checkpoint, with no ImageNet stage of its own;
# parameter-efficient (shared weights frozen, adapters and LayerNorms trained). mmseg reports 47.72 mIoU for
# Swin-S itself.
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
checkpoint_file = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_small_patch4_window7_224_20220317-7ba6d6dd.pth'  # noqa
model = dict(
    backbone=dict(arch='small', depth_scale=2, trainable='adapters_norms',
                  adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
