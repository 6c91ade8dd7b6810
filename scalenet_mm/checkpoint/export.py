"""Export a ScaleNet backbone as a plain, deeper, unshared Swin that stock mmdet/mmseg load strictly.

Position ``p`` of stage ``s`` becomes ``stages.{s}.blocks.{p}`` of an mmdet ``SwinTransformer`` with
``depths = scaled depths``: a copy of the block it runs, with its own norms where it has them and its
LoRA adapters folded into the target weights (``W + scale * W_up @ W_down``). Refused, with the reason:
non-linear (``'parallel'``) adapters, and positions whose window mode differs
from a plain Swin's (SW-MSA exactly at odd positions).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # the backbone imports this package
    from ..models.backbones.scalenet_swin import ScaleNetSwinTransformer

ADAPTER_TARGET_KEYS = {'qkv': 'attn.w_msa.qkv.weight', 'proj': 'attn.w_msa.proj.weight',
                       'fc1': 'ffn.layers.0.0.weight', 'fc2': 'ffn.layers.1.weight'}


def check_exportable(model: ScaleNetSwinTransformer) -> None:
    """Raise ``ValueError`` when the model cannot be written as a plain Swin (nothing is written then)."""
    for s, stage in enumerate(model.stages):
        for p, shifted in enumerate(stage.shifted):
            if shifted != bool(p % 2):
                raise ValueError(f'stage {s} position {p} runs {"SW" if shifted else "W"}-MSA, but a plain Swin '
                                 f'runs {"SW" if p % 2 else "W"}-MSA there (shift_policy=\'inherit_source\'): '
                                 'a plain Swin cannot express this model')
            for target, adapter in stage.adapters[p].items():
                if adapter.nonlinear:
                    raise ValueError(f'stage {s} position {p} has a parallel adapter on {target}: its GELU '
                                     'makes it non-linear, so it cannot be merged into the shared weight. Train '
                                     "with adapter=dict(type='lora', ...) to export a plain Swin")


@torch.no_grad()
def export_plain_swin(model: ScaleNetSwinTransformer) -> 'OrderedDict[str, torch.Tensor]':
    """mmdet ``SwinTransformer`` state dict (bare keys) of depths ``model.scaled_depths``; tensors are copies."""
    check_exportable(model)
    state = model.state_dict()
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in state.items():
        if not key.startswith('stages.') or key.split('.')[2] == 'downsample':
            out[key] = value.clone()
    for s, stage in enumerate(model.stages):
        for p in range(stage.depth):
            block_prefix = f'stages.{s}.blocks.{stage.position_block[p]}.'
            position_prefix = f'stages.{s}.blocks.{p}.'
            for key, value in state.items():
                if key.startswith(block_prefix):
                    out[position_prefix + key[len(block_prefix):]] = value.clone()
            if stage.position_norms is not None:
                for name, norm in stage.position_norms[p].items():
                    out[position_prefix + f'{name}.weight'] = norm.weight.detach().clone()
                    out[position_prefix + f'{name}.bias'] = norm.bias.detach().clone()
            for target, adapter in stage.adapters[p].items():
                if not adapter.nonlinear:
                    out[position_prefix + ADAPTER_TARGET_KEYS[target]] += adapter.merged_delta()
    return OrderedDict(sorted(out.items(), key=lambda item: _natural_key(item[0])))


def _natural_key(key: str) -> list:
    return [int(part) if part.isdigit() else part for part in key.split('.')]
