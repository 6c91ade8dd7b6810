# DeiT-S on ImageNet-1k, 300 epochs from scratch (the reference: the DeiT paper reports 79.8 % top-1,
# 79.9 % in timm's zoo; their numbers). The class-token head reads the final norm's class token, as DeiT.
_base_ = ['../_base_/datasets/imagenet_timm.py', '../_base_/schedules/imagenet_deit_300e.py',
          '../_base_/runtimes/cls_runtime.py']
model = dict(
    type='scalenet_mm.ImageClassifier',
    backbone=dict(type='scalenet_mm.ScaleNetVisionTransformer', arch='deit-small', depth_scale=1, adapter=None,
                  drop_path_rate=0.1, patch_bias=True, final_norm=True, output_cls_token=True,
                  norm_cfg=dict(type='LN', eps=1e-6)),
    num_classes=1000,
    in_channels=384,
    pool='cls_token',
    label_smoothing=0.1,
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0))
