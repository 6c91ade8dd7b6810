"""Swin checkpoint layouts: recognised and converted to mmdet/mmseg backbone keys (pure functions).

Layouts (after any ``backbone.`` / ``module.`` prefix is removed):

- ``official``: Microsoft's Swin and timm < 0.9 (``layers.{i}.blocks.{b}.attn.qkv``, ``mlp.fc1``,
  ``patch_embed.proj``, ``layers.{i}.downsample`` at the *end* of stage ``i``, ``norm``, ``head``);
- ``timm``: timm >= 0.9 (as official, but ``layers.{i}.downsample`` at the *start* of stage ``i >= 1``,
  ``head.fc``);
- ``mm``: mmdet / mmseg / mmpretrain ``SwinTransformer`` (``stages.{i}.blocks.{b}.attn.w_msa.qkv``,
  ``ffn.layers.0.0``, ``patch_embed.projection``, ``norm{i}``);
- ``scalenet``: this package's checkpoints (mm keys plus ``stages.{i}.layer_map`` and adapters). One with
  identity maps and no adapters or per-position norms (``depth_scale=1``, or ``unshare=True`` without
  adapters) is a plain Swin (:func:`..layout.is_plain_scalenet`): a deeper model can grow from it.

Conversion to mm keys renames ``layers -> stages``, ``attn. -> attn.w_msa.``, ``mlp.fc1 -> ffn.layers.0.0``,
``mlp.fc2 -> ffn.layers.1``, ``patch_embed.proj -> patch_embed.projection``, and reorders the PatchMerging
``reduction``/``norm`` channels from the official concat order to ``nn.Unfold``'s order.

The single final ``norm`` of a classification checkpoint (Microsoft's and timm's files, and mmseg's released
``swin_*_20220317-*.pth`` files, which are mmseg's ``swin2mmseg.convert_swin`` of Microsoft's: mm keys but
still ``norm.*``) normalises the last stage's output, so it becomes ``norm{last stage}`` and is reported as
renamed. (mmdet and mmseg load such files non-strictly and drop it: their ``norm3`` starts at the identity.)
Keys with no place in a backbone are returned as skipped, with the reason.
"""
import re
from collections import OrderedDict
from typing import Optional

import torch

from ..models.layers.position_resize import resize_bias_table
from ..models.scaling.scalenet_backbone import ScaleNetBackbone
from .layout import BackboneLayout, ConvertedBackbone, StateDict, has_layer_maps

SWIN_FORMATS = ('official', 'timm', 'mm', 'scalenet')
SWIN_RECOMPUTED_BUFFERS = ('relative_position_index', 'attn_mask')
FINAL_NORM_NOTE = 'final norm of a classification checkpoint, applied to the last stage output'


def detect_swin_format(state_dict: StateDict) -> str:
    """Name the layout of a Swin state dict (prefixes already removed); ``ValueError`` if none fits."""
    keys = list(state_dict)
    if has_layer_maps(state_dict):
        return 'scalenet'
    if any(re.match(r'stages\.\d+\.blocks\.\d+\.attn\.w_msa\.', k) for k in keys):
        return 'mm'
    if any(re.match(r'layers\.\d+\.blocks\.\d+\.attn\.qkv\.', k) for k in keys):
        stages_with_downsample = sorted({int(m.group(1)) for k in keys
                                         if (m := re.match(r'layers\.(\d+)\.downsample\.', k))})
        if stages_with_downsample and stages_with_downsample[0] == 0:
            return 'official'
        return 'timm'
    sample = ', '.join(keys[:5])
    raise ValueError(f'unknown checkpoint format: no Swin blocks found (expected keys like '
                     f"'layers.0.blocks.0.attn.qkv.weight' (official/timm) or "
                     f"'stages.0.blocks.0.attn.w_msa.qkv.weight' (mmdet/mmseg/mmpretrain)); first keys: {sample}")


def unfold_order_reduction(weight: torch.Tensor) -> torch.Tensor:
    """PatchMerging ``reduction.weight`` ``(C_out, 4C)``: official concat order -> ``nn.Unfold`` order."""
    out_channels, in_channels = weight.shape
    weight = weight.reshape(out_channels, 4, in_channels // 4)
    return weight[:, [0, 2, 1, 3], :].transpose(1, 2).reshape(out_channels, in_channels)


def unfold_order_norm(vector: torch.Tensor) -> torch.Tensor:
    """PatchMerging ``norm.weight``/``bias`` ``(4C,)``: official concat order -> ``nn.Unfold`` order."""
    in_channels = vector.shape[0]
    return vector.reshape(4, in_channels // 4)[[0, 2, 1, 3], :].transpose(0, 1).reshape(in_channels)


def timm_to_official(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """Move timm >= 0.9's downsample (start of stage ``i``) to the end of stage ``i - 1``."""
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in state_dict.items():
        key = re.sub(r'^layers\.(\d+)\.downsample\.', lambda m: f'layers.{int(m.group(1)) - 1}.downsample.', key)
        out[re.sub(r'^head\.fc\.', 'head.', key)] = value
    return out


def official_to_mm(state_dict: StateDict) -> tuple['OrderedDict[str, torch.Tensor]', dict[str, str]]:
    """Official/timm-old keys -> mm backbone keys (final ``norm`` kept). Returns ``(converted, {skipped: why})``."""
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    skipped: dict[str, str] = {}
    for key, value in state_dict.items():
        if key.startswith('head.'):
            skipped[key] = 'classification head (not part of a backbone)'
            continue
        if key.split('.')[-1] in SWIN_RECOMPUTED_BUFFERS:
            skipped[key] = 'buffer recomputed by the model'
            continue
        if key.startswith('patch_embed.proj.'):
            out[key.replace('patch_embed.proj.', 'patch_embed.projection.')] = value
            continue
        if not key.startswith('layers.'):
            out[key] = value
            continue
        new_key = 'stages.' + key[len('layers.'):]
        if '.downsample.reduction.' in new_key:
            value = unfold_order_reduction(value)
        elif '.downsample.norm.' in new_key:
            value = unfold_order_norm(value)
        new_key = (new_key.replace('.attn.', '.attn.w_msa.').replace('.mlp.fc1.', '.ffn.layers.0.0.')
                   .replace('.mlp.fc2.', '.ffn.layers.1.'))
        out[new_key] = value
    return out, skipped


def final_norm_to_stage_norm(state_dict: StateDict) -> tuple['OrderedDict[str, torch.Tensor]', dict[str, str]]:
    """mm keys: a classification checkpoint's ``norm.*`` -> ``norm{last stage}.*``. Returns ``(state, renamed)``."""
    if not any(k.startswith('norm.') for k in state_dict):
        return OrderedDict(state_dict), {}
    last = max(int(m.group(1)) for k in state_dict if (m := re.match(r'stages\.(\d+)\.', k)))
    if any(k.startswith(f'norm{last}.') for k in state_dict):
        raise ValueError(f"checkpoint has both 'norm.*' and 'norm{last}.*' keys: which one normalises the last stage "
                         'is ambiguous; remove one of them')
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    renamed: dict[str, str] = {}
    for key, value in state_dict.items():
        if key.startswith('norm.'):
            renamed[key] = f'norm{last}.' + key[len('norm.'):]
            key = renamed[key]
        out[key] = value
    return out, renamed


class SwinLayout(BackboneLayout):
    """Swin checkpoints for :class:`~scalenet_mm.ScaleNetSwinTransformer` (model keys in mm layout)."""

    architecture = 'swin'
    formats = SWIN_FORMATS
    recomputed_buffers = SWIN_RECOMPUTED_BUFFERS
    adapter_target_keys = {'qkv': 'attn.w_msa.qkv.weight', 'proj': 'attn.w_msa.proj.weight',
                           'fc1': 'ffn.layers.0.0.weight', 'fc2': 'ffn.layers.1.weight'}
    branch_output_prefixes = ('attn.w_msa.proj.', 'ffn.layers.1.')

    def matches(self, state: StateDict) -> bool:
        return any(re.match(r'(stages|layers)\.\d+\.blocks\.\d+\.', k) for k in state)

    def detect(self, state: StateDict) -> str:
        return detect_swin_format(state)

    def convert(self, state: StateDict) -> ConvertedBackbone:
        fmt = detect_swin_format(state)
        if fmt == 'timm':
            converted, skipped = official_to_mm(timm_to_official(state))
        elif fmt == 'official':
            converted, skipped = official_to_mm(state)
        else:
            converted, skipped = OrderedDict(), {}
            for key, value in state.items():
                if key.startswith('head.'):
                    skipped[key] = 'classification head (not part of a backbone)'
                else:
                    converted[key] = value
        converted, renamed = final_norm_to_stage_norm(converted)
        return ConvertedBackbone('swin', fmt, converted, skipped, renamed,
                                 f'{FINAL_NORM_NOTE}; mmdet/mmseg drop it' if renamed else '')

    def kept_at_init(self, model: ScaleNetBackbone, key: str, converted: StateDict) -> Optional[str]:
        # output norms of stages a checkpoint did not output (classification files: only the last) stay at
        # their initialisation, as in mmdet/mmseg
        if re.fullmatch(r'norm\d+\.(weight|bias)', key):
            return 'output norm of a stage the checkpoint did not output'
        return None

    def skip_reason(self, model: ScaleNetBackbone, key: str) -> Optional[str]:
        if re.match(r'norm\d+\.', key):
            return f'output norm of a stage not in out_indices={model.out_indices}'
        return None

    def fit(self, model: ScaleNetBackbone, key: str, value: torch.Tensor, current: torch.Tensor
            ) -> Optional[tuple[torch.Tensor, str]]:
        if key.endswith('relative_position_bias_table') and value.shape[1] == current.shape[1]:
            return resize_bias_table(value, current.shape[0]), f'{tuple(value.shape)} -> {tuple(current.shape)}'
        return None

    def check_exportable(self, model: ScaleNetBackbone) -> None:
        for s, stage in enumerate(model.stages):
            for p, shifted in enumerate(stage.shifted):
                if shifted != bool(p % 2):
                    raise ValueError(f'stage {s} position {p} runs {"SW" if shifted else "W"}-MSA, but a plain Swin '
                                     f'runs {"SW" if p % 2 else "W"}-MSA there (shift_policy=\'inherit_source\'): '
                                     'a plain Swin cannot express this model')
