"""Registries of the ``scalenet_mm`` scope: children of mmengine's root registries.

Configs name our modules as ``type='scalenet_mm.ScaleNetSwinTransformer'``; mmdet, mmseg and mmengine
resolve the ``scalenet_mm.`` prefix through the root registry into these children, whatever their own
``default_scope`` is. ``locations`` lets a registry import the modules that register into it on first use.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

SCOPE = 'scalenet_mm'

MODELS = Registry('model', parent=MMENGINE_MODELS, scope=SCOPE, locations=['scalenet_mm.models'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=SCOPE, locations=['scalenet_mm.engine'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=SCOPE, locations=['scalenet_mm.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE, locations=['scalenet_mm.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=SCOPE, locations=['scalenet_mm.evaluation'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope=SCOPE, locations=['scalenet_mm.engine'])
