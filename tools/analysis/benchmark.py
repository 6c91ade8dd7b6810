#!/usr/bin/env python
"""Train-step and inference throughput and peak memory of a config against a baseline config, one run.

    python tools/analysis/benchmark.py CONFIG BASELINE_CONFIG [--repeats 10] [--warmup 2] [--device cpu]
        [--growth G] [--cfg-options ...] [--baseline-cfg-options ...]

Each model is built from its config with random weights (``init_cfg`` of the backbone dropped: no download)
and fed real batches from the config's own train / val dataloaders, fetched before timing. Train step:
``model.train_step`` with the config's optimizer wrapper; inference: ``model.test_step`` under
``no_grad``. The two models are timed alternately (median of ``--repeats``); ratios are CONFIG / BASELINE.
Peak memory is what one train step adds (CUDA allocator, or the resident set size on CPU). ``--growth G``
times CONFIG's ScaleNet backbone at the depth of a ``GrowthScheduleHook`` phase (``0``: the source depth).
"""
import argparse
import itertools
from typing import Any, Callable

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.timing import paired_medians, peak_memory_mib
from scalenet_mm.config_tools.backbone_config import build_model, load_config
from scalenet_mm.models.scaling.growth import growing_backbone


class Subject:
    """One config's model, optimizer wrapper and pre-fetched train / val batches."""

    def __init__(self, cfg: Config, device: torch.device, num_batches: int, growth: float = 1.0) -> None:
        init_default_scope(cfg.get('default_scope', 'scalenet_mm'))  # the dataloaders' registries too
        self.model = build_model(cfg).to(device)
        self.model.init_weights()
        if growth != 1:
            growing_backbone(self.model).set_growth(growth)
        self.optim_wrapper = build_optim_wrapper(self.model, cfg.optim_wrapper)
        self.batch_size = cfg.train_dataloader.batch_size
        self.train_batches = self.fetch(cfg.train_dataloader, num_batches)
        self.val_batches = self.fetch(cfg.val_dataloader, num_batches)

    @staticmethod
    def fetch(loader_cfg: dict, num_batches: int) -> list[Any]:
        loader = Runner.build_dataloader(dict(loader_cfg, num_workers=0, persistent_workers=False))
        batches = list(itertools.islice(loader, num_batches))
        if not batches:
            raise ValueError(f'dataloader of dataset {loader_cfg["dataset"].get("data_root")} yields no batch')
        return batches

    def train_step(self) -> Callable[[], None]:
        batches = itertools.cycle(self.train_batches)

        def step() -> None:
            self.model.train()
            self.model.train_step(next(batches), self.optim_wrapper)
        return step

    def inference_step(self) -> Callable[[], None]:
        batches = itertools.cycle(self.val_batches)

        def step() -> None:
            self.model.eval()
            with torch.no_grad():
                self.model.test_step(next(batches))
        return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('baseline')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--batches', type=int, default=2, help='distinct batches cycled through')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--growth', type=float, default=1.0,
                        help="fraction of CONFIG's inserted positions that run (GrowthScheduleHook): 0 the source "
                             'depth, 1 (default) every position')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='overrides of CONFIG')
    parser.add_argument('--baseline-cfg-options', nargs='+', action=DictAction, help='overrides of BASELINE')
    args = parser.parse_args()
    device = torch.device(args.device)
    configs = [load_config(args.config, args.cfg_options), load_config(args.baseline, args.baseline_cfg_options)]
    torch.manual_seed(0)
    subject = Subject(configs[0], device, args.batches, args.growth)
    baseline = Subject(configs[1], device, args.batches)

    t_train, t_train_base = paired_medians(subject.train_step(), baseline.train_step(), args.warmup,
                                           args.repeats, device)
    t_inf, t_inf_base = paired_medians(subject.inference_step(), baseline.inference_step(), args.warmup,
                                       args.repeats, device)
    mem, mem_base = peak_memory_mib(subject.train_step(), device), peak_memory_mib(baseline.train_step(), device)

    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(f'device: {name}; torch {torch.__version__}; median of {args.repeats} steps after {args.warmup}')
    growth = f', growth {args.growth}: active depths {growing_backbone(subject.model).active_depths}' \
        if args.growth != 1 else ''
    print(f'config:   {args.config} (train batch {subject.batch_size}{growth})')
    print(f'baseline: {args.baseline} (train batch {baseline.batch_size})')
    print(f'{"measure":<28}{"config":>14}{"baseline":>14}{"ratio":>8}')
    rows = [('train step (ms)', t_train * 1e3, t_train_base * 1e3),
            ('train images / s', subject.batch_size / t_train, baseline.batch_size / t_train_base),
            ('inference batch (ms)', t_inf * 1e3, t_inf_base * 1e3),
            ('train step peak +MiB', mem, mem_base)]
    for label, value, base in rows:
        print(f'{label:<28}{value:>14.1f}{base:>14.1f}{value / base if base else float("nan"):>8.3f}')


if __name__ == '__main__':
    main()
