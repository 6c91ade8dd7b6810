"""A Swin block whose per-position behaviour is passed in at call time.

Keys match mmdet's ``SwinBlock``: ``norm1``, ``attn.w_msa.*``, ``norm2``, ``ffn.layers.0.0`` (fc1),
``ffn.layers.1`` (fc2). The block stores only weights: window mode, drop-path rate, adapters and optional
per-position norms come from the :class:`PositionContext` of the position being run, so one block can be
run at several positions of a stage without any state written onto it.
"""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from .adapters import LowRankAdapter, linear_with_adapter
from .window_attention import ShiftWindowMSA, WindowGeometry


@dataclass(frozen=True)
class PositionContext:
    """What distinguishes one position of a stage from another position running the same block.

    Attributes:
        shifted: SW-MSA (True) or W-MSA (False).
        drop_path_rate: stochastic-depth rate of this position.
        adapters: the position's adapters by target (``fc1``, ``fc2``, ``qkv``, ``proj``); may be empty.
        norms: the position's own ``norm1``/``norm2`` (``share_norms=False``) or None to use the block's.
    """
    shifted: bool
    drop_path_rate: float
    adapters: dict[str, LowRankAdapter]
    norms: Optional[nn.ModuleDict] = None


def drop_path(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth per sample on ``(B, ...)``, as mmcv's ``DropPath``."""
    if rate == 0.0 or not training:
        return x
    keep = 1 - rate
    mask = (keep + torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device)).floor_()
    return x.div(keep) * mask


class FFN(nn.Module):
    """The block's MLP in mmcv's ``FFN`` layout: ``layers.0.0`` (fc1), ``layers.0.1`` (GELU), ``layers.1`` (fc2)."""

    def __init__(self, embed_dims: int, hidden_dims: int, drop_rate: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, hidden_dims), nn.GELU(), nn.Dropout(drop_rate)),
            nn.Linear(hidden_dims, embed_dims), nn.Dropout(drop_rate))

    @property
    def fc1(self) -> nn.Linear:
        return self.layers[0][0]

    @property
    def fc2(self) -> nn.Linear:
        return self.layers[1]

    def forward(self, x: torch.Tensor, adapters: dict[str, LowRankAdapter]) -> torch.Tensor:
        """``(B, L, C) -> (B, L, C)``: fc1 (+adapter), GELU, dropout, fc2 (+adapter), dropout."""
        hidden = self.layers[0][1](linear_with_adapter(x, self.fc1, adapters.get('fc1')))
        hidden = self.layers[0][2](hidden)
        return self.layers[2](linear_with_adapter(hidden, self.fc2, adapters.get('fc2')))


class SwinBlock(nn.Module):
    """Pre-norm Swin block: ``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(ffn(norm2(x)))``."""

    def __init__(self, embed_dims: int, num_heads: int, hidden_dims: int, window_size: int, qkv_bias: bool,
                 qk_scale: Optional[float], drop_rate: float, attn_drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size, qkv_bias, qk_scale, attn_drop_rate,
                                   drop_rate)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, hidden_dims, drop_rate)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int], geometry: WindowGeometry,
                context: PositionContext) -> torch.Tensor:
        """``(B, H*W, C) -> (B, H*W, C)`` as run at the position ``context`` describes.

        ``geometry``: the stage's window layout for ``hw_shape`` (computed once per stage forward).
        """
        norm1 = context.norms['norm1'] if context.norms is not None else self.norm1
        norm2 = context.norms['norm2'] if context.norms is not None else self.norm2
        x = x + drop_path(self.attn(norm1(x), hw_shape, geometry, context.shifted, context.adapters),
                          context.drop_path_rate, self.training)
        return x + drop_path(self.ffn(norm2(x), context.adapters), context.drop_path_rate, self.training)
