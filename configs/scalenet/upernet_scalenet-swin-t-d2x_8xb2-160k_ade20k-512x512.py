# UperNet + ScaleNet-Swin-T-2x: depths (4, 4, 12, 4), the inserted layers share the weights of Swin-T's,
# parallel adapters (fc1, fc2, dim 16) at every position; seed recipe: shared weights frozen, adapters and
# LayerNorms (and the heads) trained. Starts from a Swin-T ImageNet checkpoint expanded at load time, or
# from the ScaleNet ImageNet checkpoint of configs/scalenet (set init_cfg.checkpoint; prefix='backbone.').
_base_ = './upernet_swin-t_8xb2-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(depth_scale=2, adapter=dict(_delete_=True, type='parallel', targets=('fc1', 'fc2'), dim=16),
                  trainable='adapters_norms'))
