# Runtime of the ImageNet classification stage: mmengine Runner in our own scope (no mmpretrain).
default_scope = 'scalenet_mm'
custom_imports = dict(imports=['scalenet_mm'], allow_failed_imports=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # atomic writes and a resume that falls back; every image file checked before training (docs/robustness.md)
    checkpoint=dict(type='scalenet_mm.CrashSafeCheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    data_check=dict(type='scalenet_mm.DataFilesCheckHook'))
env_cfg = dict(cudnn_benchmark=True, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
# generator states in checkpoints: a resumed run draws what the uninterrupted run draws (bit for bit for
# epoch-based loops with a fixed seed and non-persistent workers; see scalenet_mm/engine/rng_state_hook.py)
custom_hooks = [dict(type='scalenet_mm.RNGStateHook')]
