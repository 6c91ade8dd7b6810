"""Resizing learned position encodings, one function per tensor kind (as mmpretrain's ``resize_pos_embed`` and
``resize_relative_position_bias_table``): an absolute position embedding to another patch grid (the Swin's
``absolute_pos_embed``, the ViT's ``pos_embed``, and the ViT checkpoint loader), a Swin relative-position bias
table to another window (the Swin checkpoint loader).

Torch only, so ``models`` and ``checkpoint`` both import it without a cycle.
"""
from typing import Sequence

import torch
import torch.nn.functional as F

# the interpolation modes that take ``align_corners`` (F.interpolate refuses it, even False, for the others)
ALIGN_CORNERS_MODES = ('linear', 'bilinear', 'bicubic', 'trilinear')


def resize_pos_embed(pos_embed: torch.Tensor, src_shape: Sequence[int], dst_shape: Sequence[int],
                     mode: str = 'bicubic', num_extra_tokens: int = 0) -> torch.Tensor:
    """``(1, num_extra_tokens + h*w, C)`` for the grid ``src_shape = (h, w)`` -> ``(1, num_extra_tokens + H*W, C)``
    for ``dst_shape = (H, W)``.

    The extra token rows (a ViT's class token) come first and are kept as they are; the patch rows are
    interpolated as a ``(1, C, h, w)`` map with ``mode`` (``align_corners=False`` where the mode takes it, as
    mmdet, mmseg and timm). On the same grid the embedding is returned as it is.
    """
    src_shape, dst_shape = tuple(src_shape), tuple(dst_shape)
    if src_shape == dst_shape:
        return pos_embed
    if pos_embed.shape[1] != num_extra_tokens + src_shape[0] * src_shape[1]:
        raise ValueError(f'a position embedding of {pos_embed.shape[1]} rows is not {num_extra_tokens} extra '
                         f'token(s) plus a {src_shape[0]}x{src_shape[1]} grid')
    grid = pos_embed[:, num_extra_tokens:].reshape(1, *src_shape, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_shape, mode=mode,
                         align_corners=False if mode in ALIGN_CORNERS_MODES else None)
    patches = grid.flatten(2).transpose(1, 2)
    if num_extra_tokens == 0:
        return patches
    return torch.cat([pos_embed[:, :num_extra_tokens], patches], dim=1)


def resize_bias_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Bicubic resize of a ``((2W-1)^2, heads)`` relative-position bias table to ``length`` rows."""
    old, new = int(table.shape[0] ** 0.5), int(length ** 0.5)
    grid = table.permute(1, 0).reshape(1, table.shape[1], old, old)
    return F.interpolate(grid, size=(new, new), mode='bicubic').reshape(table.shape[1], length).permute(1, 0)
