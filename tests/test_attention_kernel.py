"""The attention kernel: matmul-softmax for bf16/fp16 on CPU, fused SDPA otherwise.

The low-precision CPU path must compute what mmdet's Swin computes under autocast (to the bit, since it runs the
same operations) and what fp32 attention computes up to the precision, in values and gradients.
"""
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones import VisionTransformer

from scalenet_mm import ScaleNetSwinTransformer, ScaleNetVisionTransformer
from scalenet_mm.analysis.benchmark_models import build_reference
from scalenet_mm.models.layers.attention_kernel import attention, uses_matmul_softmax

from conftest import perturb_
from released_vit_layouts import random_timm_deit, released_vit_file

# (batch * windows, heads, N, head_dims) of Swin-T's first stage at 512x512 (one image: 19 x 19 windows)
Q_SHAPE = (361, 3, 49, 32)


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got.float() - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('masked', [True, False], ids=['bias-and-shift-mask', 'no-mask'])
def test_low_precision_cpu_attention_is_fp32_attention_to_its_precision(dtype, masked):
    torch.manual_seed(0)
    q32, k32, v32 = (torch.randn(Q_SHAPE, requires_grad=True) for _ in range(3))
    # a bias per head broadcast over windows, plus SW-MSA's -100 between regions
    mask = torch.randn(1, Q_SHAPE[1], 49, 49) + torch.where(torch.rand(49, 49) < 0.3, -100.0, 0.0) \
        if masked else None
    scale = Q_SHAPE[-1] ** -0.5
    expected = F.scaled_dot_product_attention(q32, k32, v32, attn_mask=mask, scale=scale)
    q, k, v = (t.detach().to(dtype).requires_grad_() for t in (q32, k32, v32))
    assert uses_matmul_softmax(q) and not uses_matmul_softmax(q32)
    got = attention(q, k, v, mask, scale, dropout_p=0.0)
    assert got.dtype == dtype and got.shape == Q_SHAPE
    tolerance = 2e-2 if dtype == torch.bfloat16 else 3e-3
    assert relative_error(got, expected) < tolerance
    weights = torch.randn(Q_SHAPE)
    (expected * weights).sum().backward()
    (got.float() * weights).sum().backward()
    for low, full in ((q, q32), (k, k32), (v, v32)):
        assert relative_error(low.grad, full.grad) < 2 * tolerance


def test_fp32_attention_is_sdpa_with_the_mask_broadcast_over_the_batch():
    torch.manual_seed(0)
    q, k, v = (torch.randn(Q_SHAPE) for _ in range(3))
    mask = torch.randn(1, Q_SHAPE[1], 49, 49)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.expand(Q_SHAPE[0], -1, -1, -1).contiguous())
    torch.testing.assert_close(attention(q, k, v, mask, Q_SHAPE[-1] ** -0.5, 0.0), expected)


def test_swin_t_under_cpu_bf16_autocast_equals_mmdet_at_512_in_outputs_and_gradients():
    """mmdet runs q k^T in bf16, adds its fp32 bias and mask and takes an fp32 softmax; so do we, bit for bit
    (the -100 of the shift mask leaves the same softmax whether added to the bias first or after)."""
    torch.manual_seed(0)
    ours = perturb_(ScaleNetSwinTransformer(arch='tiny', adapter=None, drop_path_rate=0.0), std=0.02)
    reference = build_reference(ours, 'tiny')  # mmdet's SwinTransformer holding ours' weights, loaded strictly
    assert type(reference).__module__ == 'mmdet.models.backbones.swin'
    x = torch.randn(1, 3, 512, 512)
    grads = []
    for model in (reference, ours):
        with torch.autocast('cpu', dtype=torch.bfloat16):
            outs = model(x)
        assert all(out.dtype == torch.bfloat16 for out in outs)
        sum(out.float().square().mean() for out in outs).backward()
        grads.append({name: p.grad for name, p in model.named_parameters()})
        if model is reference:
            expected = outs
    for got, want in zip(outs, expected):
        assert torch.equal(got, want)
    assert grads[0].keys() <= grads[1].keys()
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-5, atol=1e-8, msg=name)


def test_deit_under_cpu_bf16_autocast_differs_from_mmseg_by_less_than_bf16_does_from_fp32(tmp_path):
    """mmseg's ViT attends through nn.MultiheadAttention (other kernels), so the check is against precision."""
    path = released_vit_file(tmp_path / 'mmseg.pth', 'mmseg', random_timm_deit('tiny'))
    kwargs = dict(img_size=512, out_indices=(2, 5, 8, 11), patch_bias=True, norm_cfg=dict(type='LN', eps=1e-6),
                  init_cfg=dict(type='Pretrained', checkpoint=path))
    reference = VisionTransformer(embed_dims=192, num_layers=12, num_heads=3, **kwargs)
    ours = ScaleNetVisionTransformer(arch='deit-tiny', adapter=None, **kwargs)
    for model in (reference, ours):
        model.init_weights()
        model.eval()
    x = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        full = reference(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            theirs, got = reference(x), ours(x)
    for mine, other, exact in zip(got, theirs, full):
        assert relative_error(mine, other.float()) <= relative_error(other, exact)


@pytest.mark.parametrize('model, shape', [
    (dict(arch='tiny'), (1, 3, 224, 224)),
    (dict(arch='tiny', pad_small_map=False), (1, 3, 224, 224)),  # the 7x7 last stage: window shrunk, no shift
    (dict(arch='tiny'), (1, 3, 512, 512)),
    (dict(arch='tiny'), (2, 3, 800, 1216)),
    (dict(arch='tiny', window_size=12), (1, 3, 384, 384)),
    (dict(arch='tiny', window_size=12, pad_small_map=False), (1, 3, 224, 224)),
    (dict(arch='tiny', depth_scale=2), (1, 3, 224, 224)),
], ids=['swin-t-224', 'swin-t-224-shrunk', 'swin-t-512', 'swin-t-800x1216', 'window-12-384',
        'window-12-224-shrunk', 'scalenet-2x-224'])
def test_every_swin_mask_reaches_sdpa_with_unit_stride_in_its_last_dimension(model, shape):
    """CUDA's fused SDPA kernels take an additive mask only with stride 1 in its last dimension; a permuted
    bias view silently sends every call to the math kernel (../shared/measurements/gpu-h200-2026-12-04)."""
    masks = []
    sdpa = F.scaled_dot_product_attention

    def recording_sdpa(*args, **kwargs):
        masks.append(kwargs.get('attn_mask'))
        return sdpa(*args, **kwargs)

    backbone = ScaleNetSwinTransformer(**model, adapter=None).eval()
    with torch.no_grad(), mock.patch.object(F, 'scaled_dot_product_attention', recording_sdpa):
        backbone(torch.randn(shape))
    assert len(masks) == sum(backbone.scaled_depths) and all(mask is not None for mask in masks)
    assert [mask.stride(-1) for mask in masks] == [1] * len(masks)


def test_the_vit_hands_sdpa_no_mask():
    calls = []
    sdpa = F.scaled_dot_product_attention

    def recording_sdpa(*args, **kwargs):
        calls.append(kwargs.get('attn_mask'))
        return sdpa(*args, **kwargs)

    backbone = ScaleNetVisionTransformer(arch='deit-small', patch_bias=True, adapter=None).eval()
    with torch.no_grad(), mock.patch.object(F, 'scaled_dot_product_attention', recording_sdpa):
        backbone(torch.randn(1, 3, 224, 224))
    assert calls == [None] * 12
