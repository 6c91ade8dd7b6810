# Baseline arm "stack": an untied Swin-T-2x (depths (4, 4, 12, 4), every position its own block) whose
# blocks start as copies of Microsoft's Swin-T blocks (the cyclic map), every weight trained, 100 epochs.
# Twice Swin-T's parameters. Drop-path 0.3 as the other 2x arms.
_base_ = './swin-t_in1k-pre_8xb128-100e_in1k.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, drop_path_rate=0.3))
