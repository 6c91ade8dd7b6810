# Baseline arm "shared, no adapters": Swin-T-2x grown from Microsoft's Swin-T checkpoint by sharing each
# stage's blocks (depths (4, 4, 12, 4)), no adapters, every weight trained, 100 epochs (as the ScaleNet arm).
# Drop-path 0.3 as the other 2x arms (Swin-S's depth and recipe).
_base_ = './swin-t_in1k-pre_8xb128-100e_in1k.py'
model = dict(backbone=dict(depth_scale=2, drop_path_rate=0.3))
