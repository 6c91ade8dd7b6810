# mmseg 1.2.2's configs/_base_/default_runtime.py, plus our package import (registry scope, safe loading).
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

tta_model = dict(type='SegTTAModel')

custom_imports = dict(imports=['scalenet_mm'], allow_failed_imports=False)
# generator states in checkpoints: a resumed run draws what the uninterrupted run draws (bit for bit for
# epoch-based loops with a fixed seed and non-persistent workers; see scalenet_mm/engine/rng_state_hook.py)
custom_hooks = [dict(type='scalenet_mm.RNGStateHook')]
