# Mask R-CNN + ScaleNet-Swin-T-2x (see the 1x config), 3x multi-scale + crop schedule.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  trainable='adapters_norms'))
