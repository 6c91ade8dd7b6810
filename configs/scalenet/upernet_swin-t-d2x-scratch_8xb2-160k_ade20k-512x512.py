# Baseline: an untied Swin of depths (4, 4, 12, 4) from scratch (no pretrained weights).
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, adapter=None, trainable='all', init_cfg=None))
