# Baseline: an untied Swin of depths (4, 4, 12, 4) trained from scratch for 300 epochs.
_base_ = './swin-t_8xb128-300e_in1k.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, adapter=None))
