#!/usr/bin/env python
"""Backbone speed and size ratios, all measured in one run on the same weights and input.

    python tools/analysis/benchmark_backbone.py [--size 224 224] [--batch 2] [--repeats 10] [--device cpu]

Prints (medians of ``--repeats`` steps after ``--warmup`` steps, each pair of models timed alternately):

1. our Swin-T at scale 1 vs mmdet's ``SwinTransformer``, forward (goal: at least 1.2x mmdet's speed);
2. ScaleNet-Swin-T-2x with ``trainable='adapters_norms'`` vs the untied 2x, train step (goal: at most 0.8x
   the untied time);
3. ScaleNet-Swin-T-2x inference vs the untied 2x without adapters (adapter overhead, goal: at most 5 %);
4. ScaleNet-Swin-T-2x checkpoint bytes vs Swin-T (goal: at most 1.10x).

Without mmdet (a GPU machine with only torch and mmengine), row 1 is skipped and Swin-T's size is its
tensor bytes.

The peak memory each train step adds (CUDA allocator, or resident set size on CPU) is printed too.
"""
import argparse
import io
from typing import Callable

import torch

import scalenet_mm  # noqa: F401
from scalenet_mm import ScaleNetSwinTransformer
from scalenet_mm.utils.timing import paired_medians, peak_memory_mib


def forward_step(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        with torch.no_grad():
            model(x)
    return step


def train_step(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step() -> None:
        loss = sum(out.float().square().mean() for out in model(x))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return step


def checkpoint_bytes(model: torch.nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, nargs=2, default=(224, 224), metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()
    try:
        from mmdet.models.backbones import SwinTransformer
    except ImportError as exc:  # e.g. a GPU box with torch only: the other rows still run
        print(f'mmdet is not importable ({exc}): the mmdet comparison is skipped')
        SwinTransformer = None

    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.randn(args.batch, 3, *args.size, device=device)
    common = dict(arch='tiny', drop_path_rate=0.0)

    ours = ScaleNetSwinTransformer(adapter=None, **common)
    ours.init_weights()
    swin_t_state = {k: v for k, v in ours.state_dict().items() if not k.endswith('layer_map')}
    mmdet_swin = None
    if SwinTransformer is not None:
        mmdet_swin = SwinTransformer(drop_path_rate=0.0)
        mmdet_swin.load_state_dict(swin_t_state)
    scalenet = ScaleNetSwinTransformer(depth_scale=2, trainable='adapters_norms', **common)
    untied = ScaleNetSwinTransformer(depth_scale=2, unshare=True, adapter=None, **common)
    for model in (scalenet, untied):
        model.init_weights()
    for model in (ours, mmdet_swin, scalenet, untied):
        if model is not None:
            model.to(device)
            model.eval()

    def measure(step_a: Callable[[], None], step_b: Callable[[], None]) -> tuple[float, float]:
        return paired_medians(step_a, step_b, args.warmup, args.repeats, device)

    t_ours, t_mmdet = (measure(forward_step(ours, x), forward_step(mmdet_swin, x)) if mmdet_swin is not None
                       else (float('nan'), float('nan')))
    t_scalenet_inf, t_untied_inf = measure(forward_step(scalenet, x), forward_step(untied, x))
    scalenet.train()
    untied.train()
    step_scalenet, step_untied = train_step(scalenet, x), train_step(untied, x)
    t_scalenet_train, t_untied_train = measure(step_scalenet, step_untied)
    mem_scalenet, mem_untied = peak_memory_mib(step_scalenet, device), peak_memory_mib(step_untied, device)
    bytes_scalenet = checkpoint_bytes(scalenet)
    bytes_swin_t = checkpoint_bytes(mmdet_swin) if mmdet_swin is not None else sum(
        v.numel() * v.element_size() for v in swin_t_state.values())

    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(f'device: {name}; input {args.batch}x3x{args.size[0]}x{args.size[1]}; median of {args.repeats} steps; '
          f'torch {torch.__version__}')
    rows = [
        ('Swin-T forward: mmdet / ours (speed-up)', t_mmdet / t_ours, '>= 1.20',
         f'ours {t_ours * 1e3:.1f} ms, mmdet {t_mmdet * 1e3:.1f} ms'),
        ('2x train step: ScaleNet adapters_norms / untied', t_scalenet_train / t_untied_train, '<= 0.80',
         f'{t_scalenet_train * 1e3:.1f} ms vs {t_untied_train * 1e3:.1f} ms'
         + f'; peak +{mem_scalenet:.0f} vs +{mem_untied:.0f} MiB'),
        ('2x inference: ScaleNet / untied (adapter overhead)', t_scalenet_inf / t_untied_inf, '<= 1.05',
         f'{t_scalenet_inf * 1e3:.1f} ms vs {t_untied_inf * 1e3:.1f} ms'),
        ('checkpoint bytes: ScaleNet-T-2x / Swin-T', bytes_scalenet / bytes_swin_t, '<= 1.10',
         f'{bytes_scalenet / 2 ** 20:.1f} MiB vs {bytes_swin_t / 2 ** 20:.1f} MiB'),
    ]
    print(f'{"measure":<52}{"ratio":>8}  {"goal":<9}detail')
    for label, ratio, goal, detail in rows:
        print(f'{label:<52}{ratio:>8.3f}  {goal:<9}{detail}')


if __name__ == '__main__':
    main()
