# UperNet, ADE20K 512x512, 160k.
# ScaleNet-Swin-T-2x, parameter-efficient (the seed's recipe): from its ImageNet stage, as
# upernet_scalenet-swin-t-d2x_in1k-pre_8xb2-160k_ade20k-512x512.py,
# but the shared weights stay frozen: adapters and LayerNorms (and the neck and heads) are trained.
_base_ = './upernet_scalenet-swin-t-d2x_in1k-pre_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(trainable='adapters_norms'))
