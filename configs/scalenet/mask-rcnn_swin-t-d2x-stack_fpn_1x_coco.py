# Baseline "stack": an untied Swin of depths (4, 4, 12, 4) whose layers start as copies of the Swin-T
# layers they replace (cyclic map); all weights trained, 1x.
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, adapter=None, trainable='all'))
