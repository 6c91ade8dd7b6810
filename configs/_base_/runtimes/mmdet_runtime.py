# mmdet 3.3.0's configs/_base_/default_runtime.py, plus our package import (registry scope, safe loading), crash-safe
# checkpoints (atomic writes, a resume that falls back) and the data-files check (docs/robustness.md).
default_scope = 'mmdet'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='scalenet_mm.CrashSafeCheckpointHook', interval=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'),
    data_check=dict(type='scalenet_mm.DataFilesCheckHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)

log_level = 'INFO'
load_from = None
resume = False

custom_imports = dict(imports=['scalenet_mm'], allow_failed_imports=False)
# generator states in checkpoints: a resumed run draws what the uninterrupted run draws (bit for bit for
# epoch-based loops with a fixed seed and non-persistent workers; see scalenet_mm/engine/rng_state_hook.py)
custom_hooks = [dict(type='scalenet_mm.RNGStateHook')]
