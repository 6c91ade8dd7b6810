"""ViT/DeiT checkpoint files laid out as the released ones, made with the converters that ship in mmseg.

- Facebook's DeiT files (``deit_{tiny,small,base}_patch16_224-*.pth``): ``{'model': ...}`` in timm keys
  (``blocks.{i}``, ``patch_embed.proj`` with its bias, ``norm``, ``head``; distilled files add ``dist_token``,
  ``head_dist`` and a ``pos_embed`` row for the distillation token). Written from a random timm model.
- timm's hub weights: the bare ``model.state_dict()``.
- mmseg's pretrain files (``pretrain/deit_small_patch16_224-cd65a155.pth`` in its configs): mmseg's
  ``vit2mmseg.convert_vit`` (from the installed package's ``.mim/tools/model_converters``) of Facebook's
  state dict, saved bare.
- mmpretrain's classifier files: ``state_dict`` with ``backbone.`` keys (``layers.{i}.attn.qkv``,
  ``layers.{i}.ln1/ln2``, ``ffn.layers.*``, final ``ln1``, ``patch_embed.projection``) and
  ``head.layers.head``; mmpretrain is not installed here, so this layout is written from its source.
"""
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import timm
import torch

from released_layouts import mmseg_converter

VIT_LAYOUTS = ('deit', 'timm', 'mmseg', 'mmpretrain')
TIMM_DEIT = {'tiny': 'deit_tiny_patch16_224', 'small': 'deit_small_patch16_224'}


def random_timm_deit(arch: str = 'tiny', seed: int = 0, distilled: bool = False, **kwargs: Any) -> torch.nn.Module:
    """A timm DeiT with random weights; norms and biases moved off their 1/0 init so mix-ups show."""
    torch.manual_seed(seed)
    name = TIMM_DEIT[arch].replace('_patch16', '_distilled_patch16') if distilled else TIMM_DEIT[arch]
    model = timm.create_model(name, pretrained=False, **kwargs)
    with torch.no_grad():
        for param in model.parameters():
            if param.ndim == 1:
                param.add_(torch.randn_like(param) * 0.1)
        model.pos_embed.normal_(std=0.2)
        model.cls_token.normal_(std=0.2)
    return model.eval()


def mmseg_convert_vit():
    """mmseg's ``convert_vit`` from the installed package's ``tools/model_converters/vit2mmseg.py``."""
    return mmseg_converter('vit2mmseg', 'convert_vit')


def mmpretrain_state(timm_model: torch.nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """mmpretrain's ``ImageClassifier`` keys for the weights of a timm DeiT."""
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in timm_model.state_dict().items():
        if key.startswith('head'):
            out[re.sub(r'^head(_dist)?\.', lambda m: f'head.layers.head{m[1] or ""}.', key)] = value
            continue
        key = re.sub(r'^blocks\.', 'layers.', key).replace('.norm1.', '.ln1.').replace('.norm2.', '.ln2.')
        key = key.replace('.mlp.fc1.', '.ffn.layers.0.0.').replace('.mlp.fc2.', '.ffn.layers.1.')
        key = key.replace('patch_embed.proj.', 'patch_embed.projection.')
        out['backbone.' + re.sub(r'^norm\.', 'ln1.', key)] = value
    return out


def released_vit_file(path: Path, layout: str, timm_model: torch.nn.Module) -> str:
    """Write ``timm_model``'s weights as a released file of ``layout``; returns the path."""
    state = OrderedDict((k, v.clone()) for k, v in timm_model.state_dict().items())
    if layout == 'deit':
        content: Any = {'model': state}
    elif layout == 'timm':
        content = state
    elif layout == 'mmseg':
        content = mmseg_convert_vit()(state)
    elif layout == 'mmpretrain':
        content = {'meta': {'mmpretrain_version': '1.2.0'}, 'state_dict': mmpretrain_state(timm_model)}
    else:
        raise ValueError(f'unknown layout {layout!r}; one of {VIT_LAYOUTS}')
    torch.save(content, path)
    return str(path)
