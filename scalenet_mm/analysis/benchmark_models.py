"""The backbones the speed tools compare, built on shared weights, and mmdet's Swin where mmcv has no ops.

Models (one arch: a Swin, Swin-T by default, or a DeiT; drop-path off; random weights from one seed):

- ``ours``: :class:`ScaleNetSwinTransformer` / :class:`ScaleNetVisionTransformer` at scale 1 without adapters;
- ``reference``: the OpenMMLab implementation holding exactly ``ours``' weights: mmdet's ``SwinTransformer``
  or mmseg's ``VisionTransformer``;
- ``scalenet``: ScaleNet-2x with its default adapters, ``trainable='adapters_norms'`` (the seed recipe);
- ``untied``: the untied 2x, ``unshare=True, adapter=None``, every weight trainable.
"""
import importlib.util
import io
import sys
import types
from pathlib import Path
from typing import Optional

import torch

from ..models.backbones import ScaleNetSwinTransformer, ScaleNetVisionTransformer
from ..models.backbones.swin_arguments import ARCH_ZOO
from ..models.backbones.vit_arguments import VIT_ARCH_ZOO

MODEL_NAMES = ('ours', 'reference', 'scalenet', 'untied')
ARCHS = tuple(ARCH_ZOO) + tuple(VIT_ARCH_ZOO)
# DeiT outputs: four evenly spaced positions, as mmseg's UperNet-ViT recipes (x2 positions at 2x)
VIT_OUT_INDICES = {1: (2, 5, 8, 11), 2: (5, 11, 17, 23)}
_SHIM = '_scalenet_mm_mmdet_swin'


def _exec_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_mmdet_swin(from_files: Optional[bool] = None) -> Optional[type]:
    """mmdet's ``SwinTransformer`` class, or None when mmdet or mmcv is not installed.

    With compiled mmcv ops this is the ordinary import. Without them (``mmcv-lite``, e.g. on a GPU machine
    that carries pure-Python wheels) ``mmdet.models`` cannot be imported, because its ``__init__`` imports
    every detector and their ops; then mmdet's own ``backbones/swin.py`` and the one file it needs
    (``layers/transformer/utils.py``: ``PatchEmbed``, ``PatchMerging``) are executed unmodified from the
    installed package, under a private package name, so ``mmdet.models`` is left untouched.
    ``from_files``: force that way (True) or the ordinary import (False); None decides by the ops. Once
    loaded from the files, that class is returned (both ways register ``SwinTransformer`` in mmdet's registry,
    so a process must not mix them).
    """
    if importlib.util.find_spec('mmdet') is None or importlib.util.find_spec('mmcv') is None:
        return None
    if f'{_SHIM}.backbones.swin' in sys.modules:  # loaded from the files before: registered once only
        return sys.modules[f'{_SHIM}.backbones.swin'].SwinTransformer
    if from_files is None:
        from_files = importlib.util.find_spec('mmcv._ext') is None
    if not from_files:
        from mmdet.models.backbones import SwinTransformer
        return SwinTransformer
    models_dir = Path(importlib.util.find_spec('mmdet').origin).parent / 'models'
    layers = _exec_file(f'{_SHIM}.layers_transformer_utils', models_dir / 'layers/transformer/utils.py')
    for name, attrs in ((_SHIM, {}), (f'{_SHIM}.backbones', {}),
                        (f'{_SHIM}.layers', {'PatchEmbed': layers.PatchEmbed, 'PatchMerging': layers.PatchMerging})):
        package = types.ModuleType(name)
        package.__path__ = []
        package.__dict__.update(attrs)
        sys.modules[name] = package
    return _exec_file(f'{_SHIM}.backbones.swin', models_dir / 'backbones/swin.py').SwinTransformer


def checkpoint_bytes(model: torch.nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def reference_name(arch: str) -> str:
    """What the ``reference`` model of ``arch`` is, for printing."""
    return "mmseg's VisionTransformer" if arch in VIT_ARCH_ZOO else "mmdet's SwinTransformer"


def import_mmseg_vit() -> Optional[type]:
    """mmseg's ``VisionTransformer`` class, or None when mmseg or compiled mmcv is not installed."""
    if importlib.util.find_spec('mmseg') is None or importlib.util.find_spec('mmcv._ext') is None:
        return None
    from mmseg.models.backbones import VisionTransformer
    return VisionTransformer


def build_scalenet(arch: str, depth_scale: int, **kwargs: object) -> torch.nn.Module:
    """Our backbone of ``arch`` at ``depth_scale``, initialised (drop-path off)."""
    if arch in VIT_ARCH_ZOO:
        model = ScaleNetVisionTransformer(arch=arch, depth_scale=depth_scale, patch_bias=True,
                                          out_indices=VIT_OUT_INDICES[depth_scale], **kwargs)
    else:
        model = ScaleNetSwinTransformer(arch=arch, depth_scale=depth_scale, drop_path_rate=0.0, **kwargs)
    model.init_weights()
    return model


def build_reference(ours: torch.nn.Module, arch: str) -> Optional[torch.nn.Module]:
    """The OpenMMLab implementation loaded with ``ours``' weights, or None (said) when not installed."""
    state = {k: v for k, v in ours.state_dict().items() if not k.endswith('layer_map')}
    if arch in VIT_ARCH_ZOO:
        vit_class = import_mmseg_vit()
        if vit_class is None:
            print('mmseg (or compiled mmcv) is not installed: the comparison with mmseg is skipped')
            return None
        reference = vit_class(patch_bias=True, out_indices=VIT_OUT_INDICES[1], **{
            k: ours.arch[k] for k in ('embed_dims', 'num_layers', 'num_heads')})
    else:
        swin_class = import_mmdet_swin()
        if swin_class is None:
            print('mmdet (or mmcv) is not installed: the comparison with mmdet is skipped')
            return None
        reference = swin_class(drop_path_rate=0.0, **ours.arch)
    reference.load_state_dict(state)
    return reference


def build_models(names: tuple[str, ...], device: torch.device, arch: str = 'tiny') -> dict[str, torch.nn.Module]:
    """The requested models of :data:`MODEL_NAMES` of ``arch`` (:data:`ARCHS`), in eval mode on ``device``.

    ``reference`` needs ``ours`` (its weights) and is left out, with a message, when mmdet/mmseg is not
    installed.
    """
    unknown = sorted(set(names) - set(MODEL_NAMES))
    if unknown:
        raise ValueError(f'unknown model(s) {unknown}; choose among {MODEL_NAMES}')
    if arch not in ARCHS:
        raise ValueError(f'arch={arch!r} is not one of {ARCHS}')
    torch.manual_seed(0)
    models: dict[str, Optional[torch.nn.Module]] = {}
    if 'ours' in names or 'reference' in names:
        models['ours'] = build_scalenet(arch, 1, adapter=None)
    if 'reference' in names:
        models['reference'] = build_reference(models['ours'], arch)
    if 'scalenet' in names:
        models['scalenet'] = build_scalenet(arch, 2, trainable='adapters_norms')
    if 'untied' in names:
        models['untied'] = build_scalenet(arch, 2, unshare=True, adapter=None)
    built = {name: model for name, model in models.items() if model is not None and name in names}
    for model in built.values():
        model.to(device).eval()
    return built
