"""Export a ScaleNet backbone as the plain, deeper, unshared model that stock mmdet/mmseg load strictly.

Position ``p`` of a scaled sequence becomes block ``p`` of the plain model (``stages.{s}.blocks.{p}`` of an
mmdet/mmseg ``SwinTransformer`` with ``depths = scaled depths``; ``layers.{p}`` of an mmseg
``VisionTransformer`` with ``num_layers = scaled depth``): a copy of the block it runs, with its own norms
where it has them, its LoRA adapters folded into the target weights (``W + scale * W_up @ W_down``) and its
gate, if any, folded into the last linear (weight and bias) of both residual branches.
Refused, with the reason: non-linear (``'parallel'``) adapters, what the architecture's plain model cannot
express (Swin window modes other than SW-MSA exactly at odd positions), and a backbone that skips inserted
positions (growth below 1: the plain model would run them).
"""
from collections import OrderedDict

import torch

from ..models.scaling.scalenet_backbone import ScaleNetBackbone, find_position_key
from .convert import LAYOUTS


def check_exportable(model: ScaleNetBackbone) -> None:
    """Raise ``ValueError`` when the model cannot be written as its plain architecture (nothing is written)."""
    if model.growth != 1:
        raise ValueError(f'the backbone runs at growth {model.growth} (active depths {model.active_depths} of '
                         f'{model.scaled_depths}): the plain model would also run the skipped inserted positions '
                         'and compute another function. Export a checkpoint trained after the growth schedule '
                         'reached 1')
    LAYOUTS[model.architecture].check_exportable(model)
    for prefix, positions in model.shared_positions().items():
        for p, adapters in enumerate(positions.adapters):
            for target, adapter in adapters.items():
                if adapter.nonlinear:
                    raise ValueError(f'{prefix}position {p} has a parallel adapter on {target}: its GELU makes it '
                                     'non-linear, so it cannot be merged into the shared weight. Train with '
                                     "adapter=dict(type='lora', ...) to export a plain model")


@torch.no_grad()
def export_plain(model: ScaleNetBackbone) -> 'OrderedDict[str, torch.Tensor]':
    """The plain model's state dict (bare keys) with one block per position; tensors are copies."""
    check_exportable(model)
    layout = LAYOUTS[model.architecture]
    target_keys = layout.adapter_target_keys
    state = model.state_dict()
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    for key, value in state.items():
        found = find_position_key(model, key)
        if found is None:  # not a block, per-position tensor or layer map: as it is
            out[key] = value.clone()
            continue
        positions, parsed = found
        if parsed.part == positions.blocks_name:  # a copy of the block at every position that runs it
            for p, block in enumerate(positions.position_block):
                if block == parsed.index:
                    out[f'{parsed.prefix}{parsed.part}.{p}{parsed.rest}'] = value.clone()
    for prefix, positions in model.shared_positions().items():
        for p in range(positions.depth):
            position_prefix = f'{prefix}{positions.blocks_name}.{p}.'
            if positions.position_norms is not None:
                for name, norm in positions.position_norms[p].items():
                    out[position_prefix + f'{name}.weight'] = norm.weight.detach().clone()
                    out[position_prefix + f'{name}.bias'] = norm.bias.detach().clone()
            for target, adapter in positions.adapters[p].items():
                out[position_prefix + target_keys[target]] += adapter.merged_delta()
            gate = positions.gates.get(str(p)) if positions.gates is not None else None
            if gate is not None:  # x + g * (W h + b) = x + (g W) h + g b
                for branch in layout.branch_output_prefixes:
                    for name in ('weight', 'bias'):
                        if position_prefix + branch + name in out:
                            out[position_prefix + branch + name] *= gate.detach()
    return OrderedDict(sorted(out.items(), key=lambda item: _natural_key(item[0])))


def _natural_key(key: str) -> list:
    return [(0, int(part), '') if part.isdigit() else (1, 0, part) for part in key.split('.')]
