# UperNet + DeiT-S (ScaleNet ViT backbone at depth_scale=1: mmseg's VisionTransformer), ADE20K 512x512, 80k:
# mmseg's vit_deit-s16_upernet_8xb2-80k_ade20k-512x512.py with the backbone replaced (no neck: the four
# outputs of layers 3, 6, 9, 12 all have stride 16). Reference (mmseg's model zoo, their number): 41.87 mIoU.
# Pretrained: Facebook's DeiT-S file, loaded strictly (mmseg's recipe reads a vit2mmseg-converted copy of it).
_base_ = [
    '../_base_/models/upernet_scalenet_vit.py', '../_base_/datasets/ade20k.py',
    '../_base_/runtimes/mmseg_runtime.py', '../_base_/schedules/schedule_160k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
checkpoint_file = 'https://dl.fbaipublicfiles.com/deit/deit_small_patch16_224-cd65a155.pth'
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(num_heads=6, embed_dims=384, drop_path_rate=0.1,
                  init_cfg=dict(type='Pretrained', checkpoint=checkpoint_file)),
    decode_head=dict(num_classes=150, in_channels=[384, 384, 384, 384]),
    neck=None,
    auxiliary_head=dict(num_classes=150, in_channels=384))

# AdamW optimizer, no weight decay for position embedding & layer norm in backbone
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'pos_embed': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.),
            'norm': dict(decay_mult=0.)
        }))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=80000, by_epoch=False)
]
# mmseg's schedule_80k
train_cfg = dict(type='IterBasedTrainLoop', max_iters=80000, val_interval=8000)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=8000))

# By default, models are trained on 8 GPUs with 2 images per GPU (total batch 16)
train_dataloader = dict(batch_size=2)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
auto_scale_lr = dict(enable=False, base_batch_size=16)
