"""FLOPs of a backbone or a whole mm model for one dummy input, with mmengine's jit-trace ``FlopAnalyzer``.

Counts follow mmengine/fvcore (and the Swin papers): one fused multiply-add is one FLOP. mmengine has no
handle for ``aten::scaled_dot_product_attention`` (our window attention), so one is registered here:
``q @ k^T`` plus ``attn @ v``; nor for the in-place ``aten::addmm_`` (a linear with an adapter accumulates
into the adapter's output), counted as ``addmm``. Element-wise ops (GELU, softmax, adds) are not counted,
as in mmengine; a matrix product without a handle is an error, not a silent undercount.
"""
import math
from typing import Any

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import addmm_flop_jit, get_shape

# an unsupported traced op whose name holds one of these multiplies matrices: leaving it out undercounts
MULTIPLY_OP_WORDS = ('mm', 'mv', 'matmul', 'linear', 'conv', 'einsum', 'attention', 'dot')


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """``q (..., N, d)``, ``k (..., M, d)``, ``v (..., M, d_v)`` -> ``prod(...) * N * M * (d + d_v)``."""
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    return math.prod(q[:-2]) * q[-2] * k[-2] * (q[-1] + v[-1])


class TensorModeModel(nn.Module):
    """``x (B, 3, H, W)`` -> the model's ``mode='tensor'`` outputs, with dataset-free data samples.

    mmdet detectors need image meta (``img_shape``, ``pad_shape``, ``scale_factor``) to decode proposals;
    they get it for the input size. mmseg segmentors and our classifier need none.
    """

    def __init__(self, model: nn.Module, input_hw: tuple[int, int]) -> None:
        super().__init__()
        self.model = model
        self.data_samples = dataset_free_samples(model, input_hw)

    def forward(self, x: torch.Tensor) -> Any:
        return self.model(x, self.data_samples, mode='tensor')


def dataset_free_samples(model: nn.Module, input_hw: tuple[int, int]) -> Any:
    """One data sample with image meta for mmdet detectors; None for other models."""
    if not type(model).__module__.startswith('mmdet.'):
        return None
    from mmdet.structures import DetDataSample
    meta = dict(img_shape=input_hw, ori_shape=input_hw, pad_shape=input_hw, batch_input_shape=input_hw,
                scale_factor=(1.0, 1.0))
    return [DetDataSample(metainfo=meta)]


def count_flops(model: nn.Module, input_shape: tuple[int, int, int]) -> FlopAnalyzer:
    """Analyse ``model`` (a backbone taking ``(1, C, H, W)``, or an mm model) in eval mode on zeros.

    Returns the analyzer: ``.total()``, ``.by_module()``, ``.by_operator()``, ``.unsupported_ops()``.
    """
    if len(input_shape) != 3:
        raise ValueError(f'input_shape={input_shape} must be (C, H, W)')
    was_training = model.training
    model.eval()
    is_mm_model = hasattr(model, 'data_preprocessor')
    traced = TensorModeModel(model, tuple(input_shape[1:])) if is_mm_model else model
    inputs = (torch.zeros(1, *input_shape, device=next(model.parameters()).device),)
    analyzer = FlopAnalyzer(traced, inputs).set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit,
                                                          'aten::addmm_', addmm_flop_jit)
    analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings('none')
    try:
        analyzer.total()  # run the trace now, in eval mode
    finally:
        model.train(was_training)
    uncounted = sorted(op for op in analyzer.unsupported_ops() if any(word in op for word in MULTIPLY_OP_WORDS))
    if uncounted:
        raise NotImplementedError(f'FLOPs would be undercounted: no FLOP handle for {uncounted}; register one '
                                  'with FlopAnalyzer.set_op_handle (see sdpa_flop_jit)')
    return analyzer


def flops_by_stage(analyzer: FlopAnalyzer, prefix: str = '') -> dict[str, int]:
    """FLOPs of the direct children of module ``prefix`` (``''``: the model's top-level modules)."""
    depth = prefix.count('.') + 1 if prefix else 0
    start = f'{prefix}.' if prefix else ''
    return {name: flops for name, flops in analyzer.by_module().items()
            if name and name.startswith(start) and name.count('.') == depth}
