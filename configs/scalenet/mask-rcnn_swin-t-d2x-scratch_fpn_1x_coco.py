# Baseline: an untied Swin of depths (4, 4, 12, 4) from scratch (no pretrained weights), 1x.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, adapter=None, trainable='all', init_cfg=None))
