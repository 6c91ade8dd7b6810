"""The backbones the speed tools compare, built on shared weights, and mmdet's Swin where mmcv has no ops.

Models (all Swin-T, drop-path off, random weights from one seed):

- ``ours``: :class:`ScaleNetSwinTransformer` at scale 1 without adapters (a plain Swin-T);
- ``mmdet``: mmdet's ``SwinTransformer`` holding exactly ``ours``' weights;
- ``scalenet``: ScaleNet-Swin-T-2x, ``trainable='adapters_norms'`` (the seed recipe);
- ``untied``: the untied 2x, ``unshare=True, adapter=None``, every weight trainable.
"""
import importlib.util
import sys
import types
from pathlib import Path
from typing import Optional

import torch

from ..models.backbones import ScaleNetSwinTransformer

MODEL_NAMES = ('ours', 'mmdet', 'scalenet', 'untied')
_SHIM = '_scalenet_mm_mmdet_swin'


def _exec_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_mmdet_swin() -> Optional[type]:
    """mmdet's ``SwinTransformer`` class, or None when mmdet or mmcv is not installed.

    With compiled mmcv ops this is the ordinary import. Without them (``mmcv-lite``, e.g. on a GPU machine
    that carries pure-Python wheels) ``mmdet.models`` cannot be imported, because its ``__init__`` imports
    every detector and their ops; then mmdet's own ``backbones/swin.py`` and the one file it needs
    (``layers/transformer/utils.py``: ``PatchEmbed``, ``PatchMerging``) are executed unmodified from the
    installed package, under a private package name, so ``mmdet.models`` is left untouched.
    """
    if importlib.util.find_spec('mmdet') is None or importlib.util.find_spec('mmcv') is None:
        return None
    if importlib.util.find_spec('mmcv._ext') is not None:
        from mmdet.models.backbones import SwinTransformer
        return SwinTransformer
    if f'{_SHIM}.backbones.swin' in sys.modules:
        return sys.modules[f'{_SHIM}.backbones.swin'].SwinTransformer
    models_dir = Path(importlib.util.find_spec('mmdet').origin).parent / 'models'
    layers = _exec_file(f'{_SHIM}.layers_transformer_utils', models_dir / 'layers/transformer/utils.py')
    for name, attrs in ((_SHIM, {}), (f'{_SHIM}.backbones', {}),
                        (f'{_SHIM}.layers', {'PatchEmbed': layers.PatchEmbed, 'PatchMerging': layers.PatchMerging})):
        package = types.ModuleType(name)
        package.__path__ = []
        package.__dict__.update(attrs)
        sys.modules[name] = package
    return _exec_file(f'{_SHIM}.backbones.swin', models_dir / 'backbones/swin.py').SwinTransformer


def build_models(names: tuple[str, ...], device: torch.device) -> dict[str, torch.nn.Module]:
    """The requested models of :data:`MODEL_NAMES`, in eval mode on ``device``.

    ``mmdet`` needs ``ours`` (its weights) and is left out, with a message, when mmdet is not installed.
    """
    unknown = sorted(set(names) - set(MODEL_NAMES))
    if unknown:
        raise ValueError(f'unknown model(s) {unknown}; choose among {MODEL_NAMES}')
    torch.manual_seed(0)
    common = dict(arch='tiny', drop_path_rate=0.0)
    models: dict[str, torch.nn.Module] = {}
    if 'ours' in names or 'mmdet' in names:
        models['ours'] = ScaleNetSwinTransformer(adapter=None, **common)
        models['ours'].init_weights()
    if 'mmdet' in names:
        swin_class = import_mmdet_swin()
        if swin_class is None:
            print('mmdet (or mmcv) is not installed: the comparison with mmdet is skipped')
        else:
            models['mmdet'] = swin_class(drop_path_rate=0.0)
            models['mmdet'].load_state_dict(
                {k: v for k, v in models['ours'].state_dict().items() if not k.endswith('layer_map')})
    if 'scalenet' in names:
        models['scalenet'] = ScaleNetSwinTransformer(depth_scale=2, trainable='adapters_norms', **common)
        models['scalenet'].init_weights()
    if 'untied' in names:
        models['untied'] = ScaleNetSwinTransformer(depth_scale=2, unshare=True, adapter=None, **common)
        models['untied'].init_weights()
    for model in models.values():
        model.to(device).eval()
    return {name: model for name, model in models.items() if name in names}
