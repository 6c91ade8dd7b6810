# Baseline "stack": an untied Swin of depths (4, 4, 12, 4) whose every layer starts as a copy of the
# Swin-T layer it replaces (cyclic map); all weights trained.
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, adapter=None, trainable='all'))
