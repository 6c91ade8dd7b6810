"""Parameter counts of models with shared blocks: with multiplicity, unique, and trainable, per group.

``total`` counts a shared block once per position that runs it (the size of the equivalent untied model);
at growth < 1 (``set_growth``) only the positions that run count, and a skipped position's own tensors
(adapters, norms, gate) count 0;
``unique`` counts every tensor once (what a checkpoint stores); ``trainable`` counts unique tensors with
``requires_grad``. Groups: ``stages.{s}`` of a Swin backbone, ``layers`` of a ViT, other top-level children
by name.
"""
import itertools
from dataclasses import dataclass

import torch.nn as nn

from ..models.scaling.shared_positions import shared_position_layers


@dataclass
class ParamCount:
    """Numbers of scalar parameters of one group."""
    total: int = 0
    unique: int = 0
    trainable: int = 0


def _group_of(name: str) -> str:
    parts = name.split('.')
    if 'stages' in parts:
        index = parts.index('stages')
        return '.'.join(parts[:index + 2])
    return parts[0]


def count_parameters(model: nn.Module) -> dict[str, ParamCount]:
    """Per-group counts plus a ``'total'`` row. Works on any module; multiplicity comes from ScaleNet maps."""
    multiplicity: dict[int, int] = {}
    for positions in shared_position_layers(model):
        active = positions.active_positions
        for block_index, block in enumerate(positions.owned_blocks):
            uses = sum(positions.position_block[position] == block_index for position in active)
            for param in block.parameters():
                multiplicity[id(param)] = uses
        for position in set(range(positions.depth)) - set(active):
            context = positions.position_context(position)
            own = [*(adapter.parameters() for adapter in context.adapters.values()),
                   *([context.norms.parameters()] if context.norms is not None else []),
                   [context.gate] if context.gate is not None else []]
            for param in itertools.chain(*own):
                multiplicity[id(param)] = 0
    counts: dict[str, ParamCount] = {}
    seen: set[int] = set()
    for name, param in model.named_parameters(remove_duplicate=False):
        group = counts.setdefault(_group_of(name), ParamCount())
        if id(param) in seen:
            continue
        seen.add(id(param))
        group.total += param.numel() * multiplicity.get(id(param), 1)
        group.unique += param.numel()
        group.trainable += param.numel() if param.requires_grad else 0
    counts['total'] = ParamCount(sum(c.total for c in counts.values()), sum(c.unique for c in counts.values()),
                                 sum(c.trainable for c in counts.values()))
    return counts


def format_parameter_table(counts: dict[str, ParamCount]) -> str:
    """A fixed-width table (millions of parameters)."""
    lines = [f'{"group":<28}{"total (M)":>12}{"unique (M)":>12}{"trainable (M)":>15}']
    for name, count in counts.items():
        lines.append(f'{name:<28}{count.total / 1e6:>12.3f}{count.unique / 1e6:>12.3f}{count.trainable / 1e6:>15.3f}')
    return '\n'.join(lines)
