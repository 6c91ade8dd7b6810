"""Patch embedding and patch merging with mmdet/mmseg's key names and padding behaviour.

``PatchEmbed``: ``patch_embed.projection`` (Conv2d, kernel = stride = patch size) and ``patch_embed.norm``;
inputs whose size is not a multiple of the patch size are zero-padded at the bottom/right ("corner").
``PatchMerging``: ``downsample.norm`` and ``downsample.reduction`` over 2x2 neighbourhoods gathered with
``nn.Unfold``, whose channel order (``c * 4 + kh * 2 + kw``) differs from the official Swin's concat order;
checkpoint conversion reorders the official weights (see ``scalenet_mm.checkpoint.convert``).
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Zero-pad ``(B, C, H, W)`` at the bottom and right to multiples of ``multiple``."""
    pad_h = (multiple - x.shape[-2] % multiple) % multiple
    pad_w = (multiple - x.shape[-1] % multiple) % multiple
    return F.pad(x, [0, pad_w, 0, pad_h]) if pad_h or pad_w else x


class PatchEmbed(nn.Module):
    """``(B, C_in, H, W) -> ((B, H/p * W/p, C), (H/p, W/p))`` with ceil division on odd sizes."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int, with_norm: bool, bias: bool = True,
                 norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.projection = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size, bias=bias)
        self.norm: Optional[nn.LayerNorm] = nn.LayerNorm(embed_dims, eps=norm_eps) if with_norm else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.projection(pad_to_multiple(x, self.patch_size))
        hw_shape = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2)
        return (self.norm(x) if self.norm is not None else x), hw_shape


class PatchMerging(nn.Module):
    """``(B, H*W, C) -> ((B, ceil(H/2) * ceil(W/2), C_out), (ceil(H/2), ceil(W/2)))``."""

    def __init__(self, in_channels: int, out_channels: int, with_norm: bool) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.sampler = nn.Unfold(kernel_size=2, stride=2)
        self.norm: Optional[nn.LayerNorm] = nn.LayerNorm(4 * in_channels) if with_norm else None
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor, hw_shape: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
        batch, length, channels = x.shape
        height, width = hw_shape
        x = pad_to_multiple(x.view(batch, height, width, channels).permute(0, 3, 1, 2), 2)
        out_hw = (x.shape[2] // 2, x.shape[3] // 2)
        x = self.sampler(x).transpose(1, 2)
        x = self.norm(x) if self.norm is not None else x
        return self.reduction(x), out_hw
