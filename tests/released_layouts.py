"""Checkpoint files laid out exactly as the released ones, made with the converters that ship in timm and mmseg.

- Microsoft's files (``swin_{tiny,small,base}_patch4_window7_224.pth``, what mmdet's and our configs download):
  ``{'model': ...}`` with ``layers.{i}`` keys, the downsample at the *end* of stage ``i``, one final ``norm``,
  ``head``, and the buffers Microsoft's code saves (``relative_position_index`` everywhere, ``attn_mask`` in
  shifted blocks whose map is larger than the window). Written here from a random timm model (timm keeps the
  same tensors in its current layout) and checked by a test with timm's own ``checkpoint_filter_fn``.
- mmseg's released files (``swin_*_20220317-*.pth``): mmseg's ``swin2mmseg.convert_swin`` (from the installed
  package's ``.mim/tools/model_converters``) of Microsoft's state dict, saved bare.
- timm's current layout: ``model.state_dict()`` of the timm model.
- mmpretrain's classifier files: ``state_dict`` with ``backbone.`` mm keys (``norm3`` only) and ``head.fc``.
- mmdet/mmseg full-model files: ``meta``, ``state_dict`` (``backbone.`` + neck/heads), ``optimizer``.
"""
import importlib.util
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import timm
import torch
from timm.models.swin_transformer import SwinTransformerBlock

TIMM_NAMES = {'tiny': 'swin_tiny_patch4_window7_224', 'small': 'swin_small_patch4_window7_224',
              'base': 'swin_base_patch4_window7_224'}
LAYOUTS = ('microsoft', 'mmseg', 'timm', 'mmpretrain', 'mmdet_model', 'mmseg_model')


def random_timm_swin(arch: str = 'tiny', seed: int = 0, **kwargs: Any) -> torch.nn.Module:
    """A timm Swin with random weights; norms and biases moved off timm's 1/0 init so mix-ups show."""
    torch.manual_seed(seed)
    model = timm.create_model(TIMM_NAMES[arch], pretrained=False, **kwargs)
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 1:
                param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


def microsoft_state(timm_model: torch.nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """Microsoft's key layout and buffers for the weights of a timm Swin (timm 0.9+ layout)."""
    state: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in timm_model.state_dict().items():
        key = re.sub(r'^layers\.(\d+)\.downsample\.', lambda m: f'layers.{int(m[1]) - 1}.downsample.', key)
        state[re.sub(r'^head\.fc\.', 'head.', key)] = value.clone()
    for name, module in timm_model.named_modules():
        if isinstance(module, SwinTransformerBlock):
            state[f'{name}.attn.relative_position_index'] = module.attn.relative_position_index.clone()
            if module.attn_mask is not None:
                state[f'{name}.attn_mask'] = module.attn_mask.clone()
    return state


def mmseg_converter(script: str, function: str):
    """A converter function from the installed mmseg's ``.mim/tools/model_converters/{script}.py``."""
    import mmseg
    path = Path(mmseg.__file__).parent / '.mim' / 'tools' / 'model_converters' / f'{script}.py'
    spec = importlib.util.spec_from_file_location(script, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function)


def mmseg_convert_swin():
    """mmseg's ``convert_swin`` (``swin2mmseg.py``)."""
    return mmseg_converter('swin2mmseg', 'convert_swin')


def mm_backbone_state(timm_model: torch.nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """mm backbone keys as a trained mmdet/mmseg model holds them: output norms 0..3, no ``attn_mask``."""
    state = OrderedDict((k, v) for k, v in mmseg_convert_swin()(microsoft_state(timm_model)).items()
                        if not k.endswith('attn_mask'))
    final = {k: state.pop(k) for k in ('norm.weight', 'norm.bias')}
    generator = torch.Generator().manual_seed(3)
    for i in range(4):
        dims = state[f'stages.{i}.blocks.0.norm1.weight'].shape[0]
        state[f'norm{i}.weight'] = final['norm.weight'] if i == 3 else 1 + 0.1 * torch.randn(dims, generator=generator)
        state[f'norm{i}.bias'] = final['norm.bias'] if i == 3 else 0.1 * torch.randn(dims, generator=generator)
    return state


def released_file_content(layout: str, timm_model: torch.nn.Module) -> dict[str, Any]:
    """What a released/trained file of ``layout`` holds for the weights of ``timm_model``."""
    if layout == 'microsoft':
        return {'model': microsoft_state(timm_model)}
    if layout == 'mmseg':
        return mmseg_convert_swin()(microsoft_state(timm_model))
    if layout == 'timm':
        return OrderedDict((k, v.clone()) for k, v in timm_model.state_dict().items())
    if layout == 'mmpretrain':
        state = OrderedDict((f'backbone.{k}', v) for k, v in mm_backbone_state(timm_model).items()
                            if not re.match(r'norm[012]\.', k))
        state['head.fc.weight'] = timm_model.head.fc.weight.clone()
        state['head.fc.bias'] = timm_model.head.fc.bias.clone()
        return {'meta': {'mmpretrain_version': '1.2.0'}, 'state_dict': state}
    if layout in ('mmdet_model', 'mmseg_model'):
        state = OrderedDict((f'backbone.{k}', v) for k, v in mm_backbone_state(timm_model).items())
        heads = {'mmdet_model': {'neck.lateral_convs.0.conv.weight': torch.randn(256, 96, 1, 1),
                                 'rpn_head.rpn_conv.weight': torch.randn(256, 256, 3, 3),
                                 'roi_head.bbox_head.fc_cls.weight': torch.randn(81, 1024)},
                 'mmseg_model': {'decode_head.conv_seg.weight': torch.randn(150, 512, 1, 1),
                                 'auxiliary_head.conv_seg.weight': torch.randn(150, 256, 1, 1)}}[layout]
        state.update(heads)
        return {'meta': {'epoch': 12, 'iter': 1000, 'mmengine_version': '0.10.7'}, 'state_dict': state,
                'optimizer': {'state': {}, 'param_groups': [{'lr': 1e-4, 'weight_decay': 0.05, 'params': [0, 1]}]}}
    raise ValueError(f'unknown layout {layout!r}; one of {LAYOUTS}')


def write_released_file(path: Path, layout: str, timm_model: torch.nn.Module) -> str:
    """Save :func:`released_file_content` to ``path``; returns the path as a string."""
    torch.save(released_file_content(layout, timm_model), path)
    return str(path)


# address pattern -> (layout, format our loader detects); group 1 is the arch
RELEASED_FILES = {
    r'https://github\.com/SwinTransformer/storage/releases/download/v1\.0\.0/'
    r'swin_(tiny|small|base)_patch4_window7_224\.pth': ('microsoft', 'official'),
    r'https://download\.openmmlab\.com/mmsegmentation/v0\.5/pretrain/swin/'
    r'swin_(tiny|small|base)_patch4_window7_224_20220317-[0-9a-f]{8}\.pth': ('mmseg', 'mm'),
}


def released_file(address: str) -> tuple[str, str, str]:
    """``(arch, layout, detected format)`` of a released checkpoint address; fails for an unknown address."""
    for pattern, (layout, fmt) in RELEASED_FILES.items():
        match = re.fullmatch(pattern, address)
        if match:
            return match.group(1), layout, fmt
    raise AssertionError(f'{address} is not a known released Swin file: add its layout to RELEASED_FILES')
