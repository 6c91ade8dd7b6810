# A DeiT-Tiny-sized ViT for experiment 1 of the fidelity experiment on ../shared/data/cifar10_20k: DeiT-Tiny's
# width (192, 3 heads) at half its depth (6 layers; the 2x arms have DeiT-Tiny's 12), patch 4 on 32x32 images
# (64 patch tokens + the class token), class-token head after the final norm, as DeiT.
_base_ = './swin-mini_cifar10-20k.py'
model = dict(
    backbone=dict(_delete_=True, type='scalenet_mm.ScaleNetVisionTransformer',
                  arch=dict(embed_dims=192, num_layers=6, num_heads=3), img_size=32, patch_size=4, depth_scale=1,
                  adapter=None, drop_path_rate=0.1, patch_bias=True, final_norm=True, output_cls_token=True,
                  norm_cfg=dict(type='LN', eps=1e-6)),
    in_channels=192,
    pool='cls_token')
