"""A Swin block whose per-position behaviour is passed in at call time.

Keys match mmdet's ``SwinBlock``: ``norm1``, ``attn.w_msa.*``, ``norm2``, ``ffn.layers.0.0`` (fc1),
``ffn.layers.1`` (fc2). The block stores only weights: window mode, drop-path rate, adapters and optional
per-position norms come from the :class:`SwinPositionContext` of the position being run, so one block can
be run at several positions of a stage without any state written onto it.
"""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from ..scaling.position import PositionContext, residual
from .ffn import FFN
from .window_attention import ShiftWindowMSA, WindowGeometry

SWIN_NORM_NAMES = ('norm1', 'norm2')


@dataclass(frozen=True)
class SwinPositionContext(PositionContext):
    """:class:`PositionContext` plus the position's window mode: SW-MSA (``shifted``) or W-MSA."""
    shifted: bool = False


class SwinBlock(nn.Module):
    """Pre-norm Swin block: ``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(ffn(norm2(x)))`` (branches
    times the position's gate where it has one)."""

    def __init__(self, embed_dims: int, num_heads: int, hidden_dims: int, window_size: int, qkv_bias: bool,
                 qk_scale: Optional[float], drop_rate: float, attn_drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size, qkv_bias, qk_scale, attn_drop_rate,
                                   drop_rate)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, hidden_dims, drop_rate)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int], geometry: WindowGeometry,
                context: SwinPositionContext) -> torch.Tensor:
        """``(B, H*W, C) -> (B, H*W, C)`` as run at the position ``context`` describes.

        ``geometry``: the stage's window layout for ``hw_shape`` (computed once per stage forward).
        """
        norm1 = context.norms['norm1'] if context.norms is not None else self.norm1
        norm2 = context.norms['norm2'] if context.norms is not None else self.norm2
        x = residual(x, self.attn(norm1(x), hw_shape, geometry, context.shifted, context.adapters), context,
                     self.training)
        return residual(x, self.ffn(norm2(x), context.adapters), context, self.training)
