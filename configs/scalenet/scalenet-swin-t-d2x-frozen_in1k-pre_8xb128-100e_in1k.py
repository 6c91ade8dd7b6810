# ScaleNet-Swin-T-2x on ImageNet-1k, the seed recipe: grown from Microsoft's Swin-T checkpoint (the 24
# positions of depths (4, 4, 12, 4) share Swin-T's 12 blocks; the head starts from its 1000-class head),
# shared weights frozen, parallel adapters (fc1, fc2, width 16) and LayerNorms trained, 100 epochs.
# Drop-path 0.3: the seed raises it with depth (DeiT-S 0.1 -> 0.2 at 2x); 24 positions is Swin-S's depth,
# whose recipe uses 0.3.
# Downstream: mask-rcnn_scalenet-swin-t-d2x[-frozen]_in1k-pre_fpn_1x_coco.py and the UperNet pair.
_base_ = './swin-t_in1k-pre_8xb128-100e_in1k.py'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  trainable='adapters_norms', drop_path_rate=0.3))
# adapters are decayed like the linears they adapt (AdamW recipes decay every weight matrix)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'.adapters.': dict(decay_mult=1.0)}))
