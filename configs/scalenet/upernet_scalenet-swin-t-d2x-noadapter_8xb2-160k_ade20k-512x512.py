# Baseline: ScaleNet-Swin-T-2x sharing weights *without* adapters (all weights trained).
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
model = dict(backbone=dict(depth_scale=2, adapter=None, trainable='all'))
