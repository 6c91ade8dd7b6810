"""The attention kernel of both backbones: PyTorch's fused SDPA, or matmul-softmax for low precision on CPU.

On a CPU, with bf16/fp16 inputs, :func:`torch.nn.functional.scaled_dot_product_attention` takes PyTorch's CPU
flash-attention kernel. Measured on our 2-core CPU (docs/speed.md), that kernel was slower than the
explicit matmul-softmax mmdet runs (96 vs 76 ms of a Swin-T 1x512² bf16 forward), and its backward took 41 % of
a ScaleNet-2x bf16 train step. There the explicit form runs instead, as mmdet/mmseg's Swin computes it under
autocast: bf16 products, an fp32 additive mask and an fp32 softmax. fp32 inputs and GPUs keep SDPA.
"""
from typing import Optional

import torch
import torch.nn.functional as F

LOW_PRECISION = (torch.bfloat16, torch.float16)


def uses_matmul_softmax(q: torch.Tensor) -> bool:
    """Whether :func:`attention` computes ``q`` (its device and dtype) by matmul-softmax instead of SDPA."""
    return q.device.type == 'cpu' and q.dtype in LOW_PRECISION


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor], scale: float,
              dropout_p: float) -> torch.Tensor:
    """``softmax(q k^T * scale + mask) v`` with dropout ``dropout_p`` on the weights.

    Args:
        q, k, v: ``(B, heads, N, head_dims)``.
        mask: additive (fp32 under autocast), broadcastable to ``(B, heads, N, N)`` with a leading 1 (never
            copied per image), or None.
        scale: the factor on ``q k^T``.
        dropout_p: attention dropout (0 at inference).

    Returns:
        ``(B, heads, N, head_dims)`` in ``v``'s dtype.
    """
    if uses_matmul_softmax(q):
        scores = ((q * scale) @ k.transpose(-2, -1)).float()
        weights = (scores if mask is None else scores + mask).softmax(-1)
        weights = F.dropout(weights, dropout_p) if dropout_p else weights
        return weights.to(v.dtype) @ v
    # a 4-D mask (expanded, not copied) lets the fused CPU/GPU kernels take it; a 3-D one falls back to math
    mask = None if mask is None else mask.to(q.dtype).expand(q.shape[0], -1, -1, -1)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, dropout_p=dropout_p)
