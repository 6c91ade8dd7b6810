# Swin-T on ImageNet-1k, 300 epochs from scratch (the reference: mmpretrain reports 81.18 % top-1).
_base_ = ['../_base_/datasets/imagenet_timm.py', '../_base_/schedules/imagenet_adamw_300e.py',
          '../_base_/runtimes/cls_runtime.py']
model = dict(
    type='scalenet_mm.ImageClassifier',
    # pad_small_map=False: the 7x7 last stage at 224 runs one unshifted window, as Microsoft's Swin, timm and
    # mmpretrain do, so the official ImageNet weights compute the function they were trained as
    backbone=dict(type='scalenet_mm.ScaleNetSwinTransformer', arch='tiny', depth_scale=1, adapter=None,
                  drop_path_rate=0.2, out_indices=(3, ), pad_small_map=False),
    num_classes=1000,
    in_channels=768,
    label_smoothing=0.1,
    mixup=dict(mixup_alpha=0.8, cutmix_alpha=1.0))
