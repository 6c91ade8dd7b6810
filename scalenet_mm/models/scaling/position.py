"""What a block is handed at each position it runs: the position's drop-path rate, adapters and norms.

Blocks store only weights; everything that makes one position differ from another position running the same
block comes in a :class:`PositionContext` at call time, so a block is never written to per position.
"""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from .adapters import LowRankAdapter


@dataclass(frozen=True)
class PositionContext:
    """The per-position state of any scaled block.

    Attributes:
        drop_path_rate: stochastic-depth rate of this position.
        adapters: the position's adapters by target (``fc1``, ``fc2``, ``qkv``, ``proj``); may be empty.
        norms: the position's own two block norms (``share_norms=False``) by the block's norm names, or None
            to use the block's.
        gate: a learnable scalar multiplying both residual branches (``gate_inserted=True``, inserted
            positions; zero at the start, so the position starts as the identity), or None.
    """
    drop_path_rate: float
    adapters: dict[str, LowRankAdapter]
    norms: Optional[nn.ModuleDict] = None
    gate: Optional[torch.Tensor] = None


def residual(x: torch.Tensor, branch: torch.Tensor, context: PositionContext, training: bool) -> torch.Tensor:
    """``x + gate * drop_path(branch)`` (no gate: ``x + drop_path(branch)``); shapes ``(B, ..., C)``."""
    branch = drop_path(branch, context.drop_path_rate, training)
    return x + (branch if context.gate is None else context.gate * branch)


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth per sample on ``(B, ...)``, as mmcv's ``DropPath`` and timm's ``drop_path``."""
    if rate == 0.0 or not training:
        return x
    keep = 1 - rate
    mask = (keep + torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)).floor_()
    return x.div(keep) * mask
