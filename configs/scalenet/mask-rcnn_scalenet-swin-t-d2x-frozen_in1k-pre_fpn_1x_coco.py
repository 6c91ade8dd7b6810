# Mask R-CNN + FPN, COCO, 1x.
# ScaleNet-Swin-T-2x, parameter-efficient (the seed's recipe): from its ImageNet stage, as
# mask-rcnn_scalenet-swin-t-d2x_in1k-pre_fpn_1x_coco.py,
# but the shared weights stay frozen: adapters and LayerNorms (and the neck and heads) are trained.
_base_ = './mask-rcnn_scalenet-swin-t-d2x_in1k-pre_fpn_1x_coco.py'
model = dict(backbone=dict(trainable='adapters_norms'))
