"""(Shifted-)window multi-head self-attention with relative position bias, mmdet key layout.

Parameters live under ``attn.w_msa.{relative_position_bias_table, relative_position_index, qkv, proj}``
exactly as in mmdet/mmseg's ``ShiftWindowMSA``. The shift size is *not* module state: each call says
whether the position it serves uses shifted windows, so one module can serve W-MSA and SW-MSA positions.
Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention` with the bias (and the
shift mask, cached per padded feature-map size) as an additive float mask.
"""
from functools import lru_cache
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .adapters import LowRankAdapter

# mmdet/mmseg fill cross-region attention logits with -100 (not -inf); kept for identical outputs.
SHIFT_MASK_VALUE = -100.0


def linear_with_adapter(x: torch.Tensor, linear: nn.Linear, adapter: Optional[LowRankAdapter]) -> torch.Tensor:
    """``linear(x)`` plus the position's adapter branch when it has one. ``(..., C_in) -> (..., C_out)``."""
    return linear(x) if adapter is None else adapter.plus_linear(linear, x)


@lru_cache(maxsize=64)
def shift_attention_mask(padded_hw: tuple[int, int], window_size: int, shift_size: int,
                         device: torch.device) -> torch.Tensor:
    """Additive mask ``(num_windows, N, N)`` (``N = window_size**2``) that keeps SW-MSA within regions.

    Cached per padded feature-map size, window, shift and device; callers must not modify it in place.
    """
    height, width = padded_hw
    img_mask = torch.zeros((1, height, width, 1), device=device)
    slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
    region = 0
    for h in slices:
        for w in slices:
            img_mask[:, h, w, :] = region
            region += 1
    mask_windows = window_partition(img_mask, window_size).view(-1, window_size * window_size)
    mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, SHIFT_MASK_VALUE).masked_fill(mask == 0, 0.0)


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """``(B, H, W, C) -> (B * num_windows, window_size, window_size, C)``, windows in row-major order."""
    batch, height, width, channels = x.shape
    x = x.view(batch, height // window_size, window_size, width // window_size, window_size, channels)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, channels)


def window_reverse(windows: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * num_windows, ws, ws, C) -> (B, H, W, C)``."""
    window_size = windows.shape[1]
    batch = windows.shape[0] // ((height // window_size) * (width // window_size))
    x = windows.view(batch, height // window_size, width // window_size, window_size, window_size, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(batch, height, width, -1)


class WindowMSA(nn.Module):
    """Window attention weights: ``relative_position_bias_table``, ``qkv``, ``proj`` (mmdet names).

    Args:
        embed_dims: channels ``C``.
        num_heads: attention heads.
        window_size: window side ``Ws`` (square windows).
        qkv_bias: bias in the ``qkv`` projection.
        qk_scale: override of ``head_dims ** -0.5``.
        attn_drop_rate: dropout on attention weights.
        proj_drop_rate: dropout after ``proj``.
    """

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, attn_drop_rate: float = 0.0, proj_drop_rate: float = 0.0) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.window_size = window_size
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.attn_drop_rate = attn_drop_rate
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer('relative_position_index', relative_position_index(window_size))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def relative_position_bias(self) -> torch.Tensor:
        """``(num_heads, N, N)`` bias gathered from the table, ``N = Ws * Ws``."""
        n = self.window_size ** 2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1)

    def forward(self, windows: torch.Tensor, shift_mask: Optional[torch.Tensor],
                adapters: dict[str, LowRankAdapter]) -> torch.Tensor:
        """Attend within windows.

        Args:
            windows: ``(B, num_windows, N, C)``.
            shift_mask: ``(num_windows, N, N)`` additive mask for SW-MSA, or None for W-MSA.
            adapters: the position's adapters by target name (``qkv``, ``proj`` used here).

        Returns:
            ``(B, num_windows, N, C)``.
        """
        batch, num_windows, n, channels = windows.shape
        heads, head_dims = self.num_heads, channels // self.num_heads
        qkv = linear_with_adapter(windows, self.qkv, adapters.get('qkv'))
        qkv = qkv.view(batch, num_windows, n, 3, heads, head_dims).permute(3, 0, 1, 4, 2, 5)
        bias = self.relative_position_bias()
        if shift_mask is None:
            # (B * nW, heads, N, hd) with the (heads, N, N) bias broadcast over windows
            q, k, v = qkv.reshape(3, batch * num_windows, heads, n, head_dims).unbind(0)
            mask = bias.unsqueeze(0)
        else:
            # (B, nW * heads, N, hd): the (nW * heads, N, N) mask broadcasts over images, never copied per image
            q, k, v = qkv.reshape(3, batch, num_windows * heads, n, head_dims).unbind(0)
            mask = (bias.unsqueeze(0) + shift_mask.unsqueeze(1)).reshape(1, num_windows * heads, n, n)
        # a 4-D mask (expanded, not copied) lets the fused CPU/GPU kernels take it; a 3-D one falls back to math
        mask = mask.to(q.dtype).expand(q.shape[0], -1, -1, -1)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale,
                                             dropout_p=self.attn_drop_rate if self.training else 0.0)
        out = out.view(batch, num_windows, heads, n, head_dims).transpose(2, 3)
        out = linear_with_adapter(out.reshape(batch, num_windows, n, channels), self.proj, adapters.get('proj'))
        return self.proj_drop(out)


def relative_position_index(window_size: int) -> torch.Tensor:
    """``(N, N)`` index into the bias table, computed as mmdet's ``WindowMSA`` does."""
    def double_step_seq(step1: int, len1: int, step2: int, len2: int) -> torch.Tensor:
        seq1 = torch.arange(0, step1 * len1, step1)
        seq2 = torch.arange(0, step2 * len2, step2)
        return (seq1[:, None] + seq2[None, :]).reshape(1, -1)

    coords = double_step_seq(2 * window_size - 1, window_size, 1, window_size)
    return (coords + coords.T).flip(1).contiguous()


class ShiftWindowMSA(nn.Module):
    """Pads to whole windows, optionally shifts, attends per window, undoes both. Owns ``w_msa``."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, attn_drop_rate: float = 0.0, proj_drop_rate: float = 0.0) -> None:
        super().__init__()
        self.window_size = window_size
        self.w_msa = WindowMSA(embed_dims, num_heads, window_size, qkv_bias, qk_scale, attn_drop_rate,
                               proj_drop_rate)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int], shifted: bool,
                adapters: dict[str, LowRankAdapter]) -> torch.Tensor:
        """``(B, H*W, C) -> (B, H*W, C)``; ``shifted`` selects SW-MSA (shift by ``window_size // 2``)."""
        batch, length, channels = x.shape
        height, width = hw_shape
        ws = self.window_size
        x = x.view(batch, height, width, channels)
        pad_r = (ws - width % ws) % ws
        pad_b = (ws - height % ws) % ws
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        padded_h, padded_w = x.shape[1], x.shape[2]
        shift = ws // 2 if shifted else 0
        mask = None
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            # under torch.compile the mask is traced (and constant-folded) instead of looked up in the cache
            make_mask = shift_attention_mask.__wrapped__ if torch.compiler.is_compiling() else shift_attention_mask
            mask = make_mask((padded_h, padded_w), ws, shift, x.device)
        windows = window_partition(x, ws).view(batch, -1, ws * ws, channels)
        windows = self.w_msa(windows, mask, adapters)
        x = window_reverse(windows.view(-1, ws, ws, channels), padded_h, padded_w)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        if pad_r or pad_b:
            x = x[:, :height, :width, :]
        return x.reshape(batch, height * width, channels)
