# The from-scratch arm: a 24-layer DeiT-S (untied, no adapters) trained 300 epochs on the DeiT recipe,
# drop-path 0.2 as the grown model. The paper reports 79.31 % top-1 for it (their number). Not trained yet.
_base_ = './deit-s_8xb128-300e_in1k.py'
model = dict(backbone=dict(depth_scale=2, unshare=True, drop_path_rate=0.2))
