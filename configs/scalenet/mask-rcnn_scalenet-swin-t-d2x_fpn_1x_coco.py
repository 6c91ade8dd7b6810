# Mask R-CNN + ScaleNet-Swin-T-2x: depths (4, 4, 12, 4) sharing Swin-T's weights, parallel adapters
# (fc1, fc2, dim 16) at every position; seed recipe: shared weights frozen, adapters, LayerNorms and the
# detector's neck and heads trained. Starts from the official Swin-T checkpoint (expanded at load) or from
# the ScaleNet ImageNet checkpoint (set init_cfg.checkpoint and prefix='backbone.').
_base_ = './mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  trainable='adapters_norms'))
