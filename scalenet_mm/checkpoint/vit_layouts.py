"""Plain ViT / DeiT checkpoint layouts, recognised and converted to mmseg ``VisionTransformer`` keys.

Layouts (after any ``backbone.`` / ``module.`` prefix is removed):

- ``timm``: timm's ``VisionTransformer`` and Facebook's DeiT files (``blocks.{i}.attn.qkv``, ``mlp.fc1``,
  ``patch_embed.proj``, ``norm``, ``head``; distilled DeiT also ``dist_token`` and ``head_dist``);
- ``mmpretrain``: mmpretrain's ``VisionTransformer`` / ``DistilledVisionTransformer`` (``layers.{i}.attn.qkv``,
  ``layers.{i}.ln1``, ``ffn.layers.0.0``, final ``ln1``);
- ``mm``: mmseg's ``VisionTransformer`` (``layers.{i}.attn.attn.in_proj_weight``, ``attn.attn.out_proj``,
  ``layers.{i}.ln1``/``ln2``, final ``ln1``), the keys our ViT backbone uses;
- ``scalenet``: this package's checkpoints (mm keys plus ``layer_map`` and adapters).

timm -> mm is mmseg's ``vit2mmseg.convert_vit``: ``blocks -> layers``, ``norm1/2 -> ln1/2``,
``attn.qkv.{weight,bias} -> attn.attn.in_proj_{weight,bias}``, ``attn.proj -> attn.attn.out_proj``,
``mlp.fc1/fc2 -> ffn.layers.0.0/1``, ``patch_embed.proj -> patch_embed.projection``, final ``norm -> ln1``.
The distillation token of distilled DeiT files is dropped (the model has a class token only), with its
row of ``pos_embed``, and reported. The position embedding ``(1, 1 + h*w, C)`` is resized (bicubic, as
mmseg) when the checkpoint's grid differs from the model's ``img_size`` grid.
"""
import math
import re
from collections import OrderedDict
from typing import Optional

import torch

from ..models.layers.position_resize import resize_pos_embed
from ..models.scaling.scalenet_backbone import ScaleNetBackbone
from .layout import BackboneLayout, ConvertedBackbone, StateDict, has_layer_maps

VIT_FORMATS = ('timm', 'mmpretrain', 'mm', 'scalenet')
DIST_TOKEN_NOTE = ('distillation token of a distilled DeiT, dropped with its pos_embed row: the model has a class '
                   'token only (use the class-token head)')
TIMM_BLOCK_RENAMES = (('.norm1.', '.ln1.'), ('.norm2.', '.ln2.'), ('.attn.qkv.weight', '.attn.attn.in_proj_weight'),
                      ('.attn.qkv.bias', '.attn.attn.in_proj_bias'), ('.attn.proj.', '.attn.attn.out_proj.'),
                      ('.mlp.fc1.', '.ffn.layers.0.0.'), ('.mlp.fc2.', '.ffn.layers.1.'))
MMPRETRAIN_BLOCK_RENAMES = (('.attn.qkv.weight', '.attn.attn.in_proj_weight'),
                            ('.attn.qkv.bias', '.attn.attn.in_proj_bias'), ('.attn.proj.', '.attn.attn.out_proj.'))


def detect_vit_format(state: StateDict) -> str:
    """Name the layout of a ViT state dict (prefixes removed); ``ValueError`` if none fits."""
    keys = list(state)
    if has_layer_maps(state):
        return 'scalenet'
    if any(re.match(r'layers\.\d+\.attn\.attn\.in_proj_weight', k) for k in keys):
        return 'mm'
    if any(re.match(r'layers\.\d+\.attn\.qkv\.', k) for k in keys):
        return 'mmpretrain'
    if any(re.match(r'blocks\.\d+\.attn\.qkv\.', k) for k in keys):
        return 'timm'
    raise ValueError(f'unknown ViT checkpoint format: no transformer layers found (expected keys like '
                     f"'blocks.0.attn.qkv.weight' (timm/DeiT), 'layers.0.attn.qkv.weight' (mmpretrain) or "
                     f"'layers.0.attn.attn.in_proj_weight' (mmseg)); first keys: {', '.join(keys[:5])}")


def rename_keys(state: StateDict, block_prefix: str, renames: tuple[tuple[str, str], ...]
                ) -> 'OrderedDict[str, torch.Tensor]':
    """Apply ``renames`` inside ``{block_prefix}{i}.`` keys, moving them to ``layers.{i}.``; others unchanged
    except ``patch_embed.proj.`` -> ``patch_embed.projection.`` and a final ``norm.`` -> ``ln1.``."""
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in state.items():
        if key.startswith(block_prefix):
            key = 'layers.' + key[len(block_prefix):]
            for old, new in renames:
                key = key.replace(old, new)
        elif key.startswith('patch_embed.proj.'):
            key = 'patch_embed.projection.' + key[len('patch_embed.proj.'):]
        elif key.startswith('norm.'):
            key = 'ln1.' + key[len('norm.'):]
        out[key] = value
    return out


def drop_extra_tokens(state: 'OrderedDict[str, torch.Tensor]', skipped: dict[str, str]) -> None:
    """Remove the distillation token and its ``pos_embed`` row (index 1) in place, recording both."""
    if 'dist_token' not in state:
        return
    del state['dist_token']
    skipped['dist_token'] = DIST_TOKEN_NOTE
    if 'pos_embed' in state:
        pos = state['pos_embed']
        state['pos_embed'] = torch.cat([pos[:, :1], pos[:, 2:]], dim=1)
        skipped['pos_embed[:, 1]'] = DIST_TOKEN_NOTE


def checkpoint_grid(pos_embed: torch.Tensor) -> tuple[int, int]:
    """The patch grid ``(h, h)`` of a checkpoint's ``(1, 1 + h*h, C)`` ``pos_embed`` (square, as every released
    ViT/DeiT file); ``ValueError`` otherwise."""
    side = math.isqrt(pos_embed.shape[1] - 1)
    if side * side != pos_embed.shape[1] - 1:
        raise ValueError(f'pos_embed of {pos_embed.shape[1] - 1} patch rows is not a square grid')
    return side, side


class ViTLayout(BackboneLayout):
    """ViT/DeiT checkpoints for :class:`~scalenet_mm.ScaleNetVisionTransformer` (mmseg keys)."""

    architecture = 'vit'
    formats = VIT_FORMATS
    adapter_target_keys = {'qkv': 'attn.attn.in_proj_weight', 'proj': 'attn.attn.out_proj.weight',
                           'fc1': 'ffn.layers.0.0.weight', 'fc2': 'ffn.layers.1.weight'}
    branch_output_prefixes = ('attn.attn.out_proj.', 'ffn.layers.1.')

    def matches(self, state: StateDict) -> bool:
        return any(re.match(r'(blocks|layers)\.\d+\.attn\.(qkv|attn\.in_proj_weight)', k) for k in state)

    def detect(self, state: StateDict) -> str:
        return detect_vit_format(state)

    def convert(self, state: StateDict) -> ConvertedBackbone:
        fmt = detect_vit_format(state)
        skipped: dict[str, str] = {}
        kept = OrderedDict()
        for key, value in state.items():
            if key.startswith(('head.', 'head_dist.')):
                skipped[key] = 'classification head (not part of a backbone)'
            else:
                kept[key] = value
        if fmt == 'timm':
            kept = rename_keys(kept, 'blocks.', TIMM_BLOCK_RENAMES)
        elif fmt == 'mmpretrain':
            kept = rename_keys(kept, 'layers.', MMPRETRAIN_BLOCK_RENAMES)
        drop_extra_tokens(kept, skipped)
        return ConvertedBackbone('vit', fmt, kept, skipped, {})

    def skip_reason(self, model: ScaleNetBackbone, key: str) -> Optional[str]:
        if key.startswith('ln1.') and not model.final_norm:
            return 'final norm, unused with final_norm=False (as in mmseg)'
        return None

    def fit(self, model: ScaleNetBackbone, key: str, value: torch.Tensor, current: torch.Tensor
            ) -> Optional[tuple[torch.Tensor, str]]:
        if key == 'pos_embed' and value.shape[2] == current.shape[2]:
            # as mmseg's VisionTransformer.resize_pos_embed: the class row kept, the grid interpolated
            resized = resize_pos_embed(value, checkpoint_grid(value), model.pretrain_grid, model.interpolate_mode,
                                       num_extra_tokens=1)
            return resized, f'{tuple(value.shape)} -> {tuple(current.shape)} ({model.interpolate_mode})'
        return None
