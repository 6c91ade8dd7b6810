"""A plain ViT (DeiT) block whose per-position behaviour is passed in at call time.

Keys match mmseg's ``TransformerEncoderLayer``: ``ln1``, ``attn.attn.in_proj_weight``/``in_proj_bias``
(the packed q, k, v projection of ``nn.MultiheadAttention`` inside mmcv's ``MultiheadAttention``),
``attn.attn.out_proj``, ``ln2``, ``ffn.layers.0.0`` (fc1), ``ffn.layers.1`` (fc2). Drop-path is applied to
both residual branches, as in DeiT/timm (mmseg's layer applies it to the MLP branch only).
"""
from typing import Optional

import torch
import torch.nn as nn

from ..scaling.adapters import LowRankAdapter, linear_with_adapter
from ..scaling.position import PositionContext, residual
from .attention_kernel import attention
from .ffn import FFN

VIT_NORM_NAMES = ('ln1', 'ln2')


class PackedProjections(nn.Module):
    """The weights of ``nn.MultiheadAttention``: ``in_proj_weight (3C, C)``, ``in_proj_bias (3C,)``,
    ``out_proj`` (Linear ``C -> C``); both biases exist iff ``bias`` (as torch's ``bias`` argument)."""

    def __init__(self, embed_dims: int, bias: bool) -> None:
        super().__init__()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dims, embed_dims))
        self.in_proj_bias: Optional[nn.Parameter] = nn.Parameter(torch.zeros(3 * embed_dims)) if bias else None
        self.out_proj = nn.Linear(embed_dims, embed_dims, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)


class ViTAttention(nn.Module):
    """Global multi-head self-attention over all tokens; owns ``attn`` (:class:`PackedProjections`).

    Args:
        embed_dims: channels ``C``.
        num_heads: attention heads.
        qkv_bias: biases of the q, k, v and output projections.
        attn_drop_rate: dropout on attention weights.
        proj_drop_rate: dropout after the output projection.
    """

    def __init__(self, embed_dims: int, num_heads: int, qkv_bias: bool, attn_drop_rate: float,
                 proj_drop_rate: float) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.attn_drop_rate = attn_drop_rate
        self.attn = PackedProjections(embed_dims, qkv_bias)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def forward(self, x: torch.Tensor, adapters: dict[str, LowRankAdapter]) -> torch.Tensor:
        """``(B, N, C) -> (B, N, C)``; adapters ``qkv`` and ``proj`` act on the two projections."""
        batch, tokens, channels = x.shape
        weights = self.attn
        qkv = linear_with_adapter(x, weights.in_proj_weight, weights.in_proj_bias, adapters.get('qkv'))
        q, k, v = qkv.view(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        out = attention(q, k, v, None, q.shape[-1] ** -0.5, self.attn_drop_rate if self.training else 0.0)
        out = out.transpose(1, 2).reshape(batch, tokens, channels)
        out = linear_with_adapter(out, weights.out_proj.weight, weights.out_proj.bias, adapters.get('proj'))
        return self.proj_drop(out)


class ViTBlock(nn.Module):
    """Pre-norm block: ``x + drop_path(attn(ln1(x)))`` then ``x + drop_path(ffn(ln2(x)))`` (branches times the
    position's gate where it has one)."""

    def __init__(self, embed_dims: int, num_heads: int, hidden_dims: int, qkv_bias: bool, drop_rate: float,
                 attn_drop_rate: float, norm_eps: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = ViTAttention(embed_dims, num_heads, qkv_bias, attn_drop_rate, drop_rate)
        self.ln2 = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.ffn = FFN(embed_dims, hidden_dims, drop_rate)

    def forward(self, x: torch.Tensor, context: PositionContext) -> torch.Tensor:
        """``(B, N, C) -> (B, N, C)`` as run at the position ``context`` describes."""
        ln1 = context.norms['ln1'] if context.norms is not None else self.ln1
        ln2 = context.norms['ln2'] if context.norms is not None else self.ln2
        x = residual(x, self.attn(ln1(x), context.adapters), context, self.training)
        return residual(x, self.ffn(ln2(x), context.adapters), context, self.training)
