# Baseline: ScaleNet-Swin-T-2x sharing weights *without* adapters (all weights trained), 1x.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
model = dict(backbone=dict(depth_scale=2, adapter=None, trainable='all'))
