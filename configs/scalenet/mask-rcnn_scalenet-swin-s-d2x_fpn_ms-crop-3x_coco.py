# Mask R-CNN + ScaleNet-Swin-S-2x: depths (4, 4, 36, 4) sharing Swin-S's weights, adapters everywhere,
# seed recipe; 3x multi-scale + crop (mmdet: Swin-S box 48.2 / mask 43.2; mmdet trains it with --amp).
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
pretrained = 'https://github.com/SwinTransformer/storage/releases/download/v1.0.0/swin_small_patch4_window7_224.pth'  # noqa
model = dict(
    backbone=dict(arch='small', depth_scale=2, trainable='adapters_norms',
                  adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  init_cfg=dict(type='Pretrained', checkpoint=pretrained)))
