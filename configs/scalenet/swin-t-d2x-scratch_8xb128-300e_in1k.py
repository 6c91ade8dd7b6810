# Baseline arm "2x from scratch": an untied Swin-T-2x (depths (4, 4, 12, 4)) trained from random weights
# for 300 epochs (the full Swin recipe). Drop-path 0.3: Swin-S's from-scratch recipe at the same depth.
_base_ = './swin-t_8xb128-300e_in1k.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, drop_path_rate=0.3))
