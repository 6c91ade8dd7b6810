"""(Shifted-)window multi-head self-attention with relative position bias, mmdet key layout.

Parameters live under ``attn.w_msa.{relative_position_bias_table, relative_position_index, qkv, proj}``
exactly as in mmdet/mmseg's ``ShiftWindowMSA``. Neither the window geometry nor the shift is module state:
a stage computes one :class:`WindowGeometry` for its feature map (windows, shift, padding, the SW-MSA mask)
and hands it to every position with a flag saying whether that position runs shifted windows, so one
module serves W-MSA and SW-MSA positions. Attention runs through :func:`.attention_kernel.attention` (fused
SDPA, or matmul-softmax for bf16/fp16 on CPU) with the bias (and the shift mask) as an additive float mask.

Feature maps with a side no larger than the window follow one of two conventions:

- ``pad_small_map=True`` (mmdet/mmseg): pad to whole windows and shift by ``window_size // 2`` always;
- ``pad_small_map=False`` (Microsoft's Swin, timm, mmpretrain's classifiers): along a side no larger than
  the window, the window shrinks to that side and does not shift, so no padding token is attended to.
"""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..scaling.adapters import LowRankAdapter, linear_with_adapter
from .attention_kernel import attention

# mmdet/mmseg fill cross-region attention logits with -100 (not -inf); kept for identical outputs.
SHIFT_MASK_VALUE = -100.0


@dataclass(frozen=True)
class WindowGeometry:
    """How a stage cuts its ``(H, W)`` map into windows; the same for every position of the stage.

    Attributes:
        window: window ``(Wh, Ww)``; ``N = Wh * Ww`` tokens per window.
        shift: roll ``(Sh, Sw)`` of SW-MSA positions; ``(0, 0)`` makes them run W-MSA.
        padded_hw: ``(H, W)`` padded at the bottom/right to whole windows.
        shift_mask: ``(num_windows, N, N)`` additive mask keeping SW-MSA within regions; None when
            ``shift == (0, 0)``.
        bias_index: ``(N, N)`` index into the bias table of the configured square window when the window
            shrank; None for that square window (the module's ``relative_position_index`` is used).
    """
    window: tuple[int, int]
    shift: tuple[int, int]
    padded_hw: tuple[int, int]
    shift_mask: Optional[torch.Tensor]
    bias_index: Optional[torch.Tensor]


def window_geometry(hw_shape: tuple[int, int], window_size: int, pad_small_map: bool,
                    device: torch.device) -> WindowGeometry:
    """The :class:`WindowGeometry` of an ``(H, W)`` map for square windows of side ``window_size``."""
    if pad_small_map:
        window = (window_size, window_size)
        shift = (window_size // 2, window_size // 2)
    else:
        window = (min(hw_shape[0], window_size), min(hw_shape[1], window_size))
        shift = tuple(0 if side <= window_size else window_size // 2 for side in hw_shape)
    padded_hw = (hw_shape[0] + (-hw_shape[0]) % window[0], hw_shape[1] + (-hw_shape[1]) % window[1])
    mask = shift_attention_mask(padded_hw, window, shift, device) if any(shift) else None
    index = None if window == (window_size, window_size) else relative_position_index(window_size, window, device)
    return WindowGeometry(window, shift, padded_hw, mask, index)


def shift_attention_mask(padded_hw: tuple[int, int], window: tuple[int, int], shift: tuple[int, int],
                         device: torch.device) -> torch.Tensor:
    """Additive mask ``(num_windows, N, N)`` (``N = Wh * Ww``) that keeps SW-MSA within regions.

    Along each side with a non-zero shift ``S`` the rolled map has three bands (``[0, -Wd)``, ``[-Wd, -S)``,
    ``[-S, end)``, as in Swin); tokens attend only to tokens of the same band pair.
    """
    bands = [(slice(0, -w), slice(-w, -s), slice(-s, None)) if s else (slice(None),) for w, s in zip(window, shift)]
    img_mask = torch.zeros((1, padded_hw[0], padded_hw[1], 1), device=device)
    region = 0
    for h in bands[0]:
        for w in bands[1]:
            img_mask[:, h, w, :] = region
            region += 1
    mask_windows = window_partition(img_mask, window).view(-1, window[0] * window[1])
    # one pass: (region differs) * -100 (mmdet's masked_fill pair gives the same values at 4x the memory traffic)
    return (mask_windows.unsqueeze(1) != mask_windows.unsqueeze(2)).float().mul_(SHIFT_MASK_VALUE)


def window_partition(x: torch.Tensor, window: tuple[int, int]) -> torch.Tensor:
    """``(B, H, W, C) -> (B * num_windows, Wh, Ww, C)``, windows in row-major order."""
    batch, height, width, channels = x.shape
    wh, ww = window
    x = x.view(batch, height // wh, wh, width // ww, ww, channels)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, wh, ww, channels)


def window_reverse(windows: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * num_windows, Wh, Ww, C) -> (B, H, W, C)``."""
    wh, ww = windows.shape[1], windows.shape[2]
    batch = windows.shape[0] // ((height // wh) * (width // ww))
    x = windows.view(batch, height // wh, width // ww, wh, ww, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(batch, height, width, -1)


def relative_position_index(window_size: int, window: Optional[tuple[int, int]] = None,
                            device: Optional[torch.device] = None) -> torch.Tensor:
    """``(N, N)`` index into a ``((2 * window_size - 1)^2, heads)`` bias table for a ``window`` (default square).

    Entry ``[i, j]`` is ``(r_i - r_j + Ws - 1) * (2 Ws - 1) + (c_i - c_j + Ws - 1)``: for the square window
    exactly mmdet's ``WindowMSA`` index; a smaller window reads the offsets it has from the same table.
    """
    wh, ww = window or (window_size, window_size)
    rows = torch.arange(wh, device=device).repeat_interleave(ww)
    cols = torch.arange(ww, device=device).repeat(wh)
    span = 2 * window_size - 1
    return (rows[:, None] - rows[None, :] + window_size - 1) * span + (cols[:, None] - cols[None, :] + window_size - 1)


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

    def relative_position_bias(self, index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``(num_heads, N, N)`` bias gathered from the table by ``index`` ``(N, N)`` (default: the square one),
        contiguous: CUDA's fused SDPA kernels take a mask only with stride 1 in its last dimension, and the
        permuted gather (stride ``num_heads``) sent every call to the math kernel."""
        index = self.relative_position_index if index is None else index
        n = index.shape[0]
        return self.relative_position_bias_table[index.reshape(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()

    def forward(self, windows: torch.Tensor, shift_mask: Optional[torch.Tensor],
                adapters: dict[str, LowRankAdapter], bias_index: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Attend within windows.

        Args:
            windows: ``(B, num_windows, N, C)``.
            shift_mask: ``(num_windows, N, N)`` additive mask for SW-MSA, or None for W-MSA.
            adapters: the position's adapters by target name (``qkv``, ``proj`` used here).
            bias_index: ``(N, N)`` table index of a shrunk window, None for the square one.

        Returns:
            ``(B, num_windows, N, C)``.
        """
        batch, num_windows, n, channels = windows.shape
        heads, head_dims = self.num_heads, channels // self.num_heads
        qkv = linear_with_adapter(windows, self.qkv.weight, self.qkv.bias, adapters.get('qkv'))
        qkv = qkv.view(batch, num_windows, n, 3, heads, head_dims).permute(3, 0, 1, 4, 2, 5)
        bias = self.relative_position_bias(bias_index)
        if shift_mask is None:
            # (B * nW, heads, N, hd) with the (heads, N, N) bias broadcast over windows
            q, k, v = qkv.reshape(3, batch * num_windows, heads, n, head_dims).unbind(0)
            mask = bias.unsqueeze(0)
        else:
            # (B, nW * heads, N, hd): the (nW * heads, N, N) mask broadcasts over images, never copied per image
            q, k, v = qkv.reshape(3, batch, num_windows * heads, n, head_dims).unbind(0)
            mask = (bias.unsqueeze(0) + shift_mask.unsqueeze(1)).reshape(1, num_windows * heads, n, n)
        out = attention(q, k, v, mask, self.scale, self.attn_drop_rate if self.training else 0.0)
        out = out.view(batch, num_windows, heads, n, head_dims).transpose(2, 3)
        out = linear_with_adapter(out.reshape(batch, num_windows, n, channels), self.proj.weight, self.proj.bias,
                                  adapters.get('proj'))
        return self.proj_drop(out)


class ShiftWindowMSA(nn.Module):
    """Pads to whole windows, optionally shifts, attends per window, undoes both. Owns ``w_msa``."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, qkv_bias: bool = True,
                 qk_scale: Optional[float] = None, attn_drop_rate: float = 0.0, proj_drop_rate: float = 0.0) -> None:
        super().__init__()
        self.window_size = window_size
        self.w_msa = WindowMSA(embed_dims, num_heads, window_size, qkv_bias, qk_scale, attn_drop_rate,
                               proj_drop_rate)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int], geometry: WindowGeometry, shifted: bool,
                adapters: dict[str, LowRankAdapter]) -> torch.Tensor:
        """``(B, H*W, C) -> (B, H*W, C)``; ``shifted`` selects SW-MSA (roll by ``geometry.shift``)."""
        batch, length, channels = x.shape
        height, width = hw_shape
        padded_h, padded_w = geometry.padded_hw
        x = x.view(batch, height, width, channels)
        if (padded_h, padded_w) != (height, width):
            x = F.pad(x, (0, 0, 0, padded_w - width, 0, padded_h - height))
        shift = geometry.shift if shifted and geometry.shift_mask is not None else None
        if shift is not None:
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        wh, ww = geometry.window
        windows = window_partition(x, geometry.window).view(batch, -1, wh * ww, channels)
        windows = self.w_msa(windows, geometry.shift_mask if shift is not None else None, adapters,
                             geometry.bias_index)
        x = window_reverse(windows.view(-1, wh, ww, channels), padded_h, padded_w)
        if shift is not None:
            x = torch.roll(x, shifts=shift, dims=(1, 2))
        if (padded_h, padded_w) != (height, width):
            x = x[:, :height, :width, :]
        return x.reshape(batch, height * width, channels)
