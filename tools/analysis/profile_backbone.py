#!/usr/bin/env python
"""Where a backbone's forward time goes, by kind of work, from the torch profiler (eager mode).

    python tools/analysis/profile_backbone.py [--size 512 512] [--batch 1] [--dtype fp32|bf16]
        [--models ours reference scalenet untied] [--repeats 3] [--warmup 1] [--device cpu|cuda] [--threads N]

Models as in ``benchmark_backbone.py`` (``ours``: our Swin-T at scale 1; ``reference``: mmdet's Swin-T on the
same weights; ``scalenet``: ScaleNet-Swin-T-2x; ``untied``: the untied 2x). Each top-level operator call
(an ``aten::`` call not made from inside another one) is put in one category by its name and the Python
function it was called from, and its inclusive time (CPU time, or the time of the kernels it launched on
a GPU) is added there; the table gives milliseconds per forward and shares of the total.
"""
import argparse
from collections import defaultdict
from typing import Optional

import torch
from torch.autograd.profiler_util import FunctionEvent
from torch.profiler import ProfilerActivity, profile

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.benchmark_models import MODEL_NAMES, build_models

CATEGORIES = ('window partition/reverse', 'roll', 'pad', 'mask', 'norms', 'linears', 'adapters',
              'attention', 'GELU', 'patch embed conv', 'other (reshapes, copies, residual adds)')
_BY_OP = {
    'aten::roll': 'roll', 'aten::constant_pad_nd': 'pad', 'aten::pad': 'pad',
    'aten::layer_norm': 'norms', 'aten::native_layer_norm': 'norms',
    'aten::linear': 'linears', 'aten::addmm': 'linears', 'aten::addmm_': 'linears', 'aten::mm': 'linears',
    'aten::scaled_dot_product_attention': 'attention', 'aten::softmax': 'attention',
    'aten::_softmax': 'attention', 'aten::matmul': 'attention', 'aten::bmm': 'attention',
    'aten::index': 'attention', 'aten::gelu': 'GELU', 'aten::conv2d': 'patch embed conv',
}
# functions (ours and mmdet's) whose every operator belongs to one category
_BY_FUNCTION = {'window_partition': 'window partition/reverse', 'window_reverse': 'window partition/reverse',
                'shift_attention_mask': 'mask', 'window_geometry': 'mask', 'relative_position_bias': 'attention',
                'attention': 'attention', 'hidden': 'adapters'}
# operators that build mmdet's SW-MSA mask inline in its ShiftWindowMSA.forward
_MASK_OPS = {'aten::zeros', 'aten::fill_', 'aten::sub', 'aten::masked_fill', 'aten::ne', 'aten::eq'}


def _callers(event: FunctionEvent) -> tuple[list[str], list[str]]:
    """The Python functions and the module classes around an event, innermost first, from the events of
    the profiler's Python tracer (``'path(line): name'`` and ``'nn.Module: Class_index'``)."""
    functions, modules = [], []
    parent: Optional[FunctionEvent] = event.cpu_parent
    while parent is not None:
        if parent.name.startswith('nn.Module: '):
            modules.append(parent.name[len('nn.Module: '):].rsplit('_', 1)[0])
        elif '): ' in parent.name:
            functions.append(parent.name.rsplit(': ', 1)[-1])
        parent = parent.cpu_parent
    return functions, modules


def categorise(event: FunctionEvent) -> str:
    """The category of a top-level operator call: by the function it ran in, else by its name, else by the
    module it ran in."""
    functions, modules = _callers(event)
    if 'LowRankAdapter' in modules[:1] or ('plus_linear' in functions and event.name != 'aten::addmm_'):
        return 'adapters'  # in ``plus_linear`` only ``addmm_`` is the target linear's GEMM
    for name in functions:
        if name in _BY_FUNCTION:
            return _BY_FUNCTION[name]
    if event.name in _BY_OP:
        return _BY_OP[event.name]
    if modules[:1] == ['WindowMSA']:
        return 'attention'  # scaling, bias and mask additions, dtype casts around the attention itself
    if event.name in _MASK_OPS:
        return 'mask'
    return CATEGORIES[-1]


def _is_top_level(event: FunctionEvent) -> bool:
    parent: Optional[FunctionEvent] = event.cpu_parent
    while parent is not None:
        if parent.name.startswith('aten::'):
            return False
        parent = parent.cpu_parent
    return event.name.startswith('aten::')


def profile_forward(model: torch.nn.Module, x: torch.Tensor, dtype: str, repeats: int, warmup: int
                    ) -> dict[str, float]:
    """Milliseconds per forward by category (eager, no grad; bf16 under autocast)."""
    device = x.device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == 'bf16')
    with torch.no_grad(), autocast:
        for _ in range(warmup):
            model(x)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == 'cuda' else [])
        with profile(activities=activities, with_stack=True) as prof:
            for _ in range(repeats):
                model(x)
            if device.type == 'cuda':
                torch.cuda.synchronize(device)
    totals: dict[str, float] = defaultdict(float)
    for event in prof.events():
        if _is_top_level(event):
            time_us = event.device_time_total if device.type == 'cuda' else event.cpu_time_total
            totals[categorise(event)] += time_us / 1e3 / repeats
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, nargs=2, default=(512, 512), metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--dtype', choices=('fp32', 'bf16'), default='fp32')
    parser.add_argument('--models', nargs='+', choices=MODEL_NAMES, default=['ours', 'reference'])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (torch.set_num_threads)')
    args = parser.parse_args()
    if min(args.size) < 32 or args.batch < 1 or args.repeats < 1 or args.warmup < 0:
        parser.error('need --size >= 32 32, --batch >= 1, --repeats >= 1 and --warmup >= 0')
    if args.threads is not None:
        if args.threads < 1:
            parser.error('--threads must be at least 1')
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    models = build_models(tuple(args.models), device)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, *args.size, device=device)
    tables = {name: profile_forward(model, x, args.dtype, args.repeats, args.warmup) for name, model in models.items()}
    what = 'kernel time' if device.type == 'cuda' else f'CPU time, {torch.get_num_threads()} threads'
    print(f'forward of {args.batch}x3x{args.size[0]}x{args.size[1]}, {args.dtype}, eager; {what}; '
          f'ms per forward (share), mean of {args.repeats}; torch {torch.__version__}')
    print(f'{"category":<42}' + ''.join(f'{name:>18}' for name in tables))
    for category in CATEGORIES + ('total',):
        cells = []
        for table in tables.values():
            total = sum(table.values())
            value = total if category == 'total' else table.get(category, 0.0)
            cells.append(f'{value:9.1f} ({100 * value / total:4.1f}%)')
        print(f'{category:<42}' + ''.join(f'{cell:>18}' for cell in cells))


if __name__ == '__main__':
    main()
