#!/usr/bin/env python
"""Memory soak: train a config for N iterations in one process and compare the peak memory of the later
iterations with the peak of the first ones (a leak or a growing cache shows as growth).

    python tools/analysis/soak.py CONFIG [CONFIG ...] [--iters 300] [--first 50] [--cfg-options ...]

Memory is sampled after every iteration: the process's resident set size (``VmRSS``) on CPU, or the CUDA
allocator's allocated bytes on a GPU. Prints, per config: the largest sample of iterations 1..first, the
largest of first+1..iters, and the growth in percent (goal: at most 5 %). No checkpoint is written; validation is off.
"""
import argparse
import os.path as osp
import tempfile

import torch
from mmengine.config import DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.timing import resident_set_mib
from scalenet_mm.config_tools.backbone_config import load_config


class SoakFinished(Exception):
    """Raised by :class:`MemoryTraceHook` once the requested iterations are done."""


class MemoryTraceHook(Hook):
    """Record memory after every training iteration; stop the run after ``iters`` iterations."""
    priority = 'LOWEST'

    def __init__(self, iters: int) -> None:
        self.iters = iters
        self.trace: list[float] = []

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if torch.cuda.is_available():
            self.trace.append(torch.cuda.memory_allocated() / 2 ** 20)
        else:
            self.trace.append(resident_set_mib())
        if len(self.trace) >= self.iters:
            raise SoakFinished


def soak(config: str, iters: int, cfg_options: dict, work_dir: str) -> list[float]:
    """Memory after each of ``iters`` training iterations of ``config`` (MiB)."""
    cfg = load_config(config, cfg_options)
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.splitext(osp.basename(config))[0]
    cfg.custom_hooks = []
    if 'max_iters' in cfg.train_cfg:  # long enough for the soak; the hook stops it
        cfg.train_cfg.max_iters = iters + 1
    else:
        cfg.train_cfg.max_epochs = iters + 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10 ** 9, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    runner = Runner.from_cfg(cfg)
    hook = MemoryTraceHook(iters)
    runner.register_hook(hook)
    try:
        runner.train()
    except SoakFinished:
        pass
    if len(hook.trace) < iters:
        raise RuntimeError(f'{config}: training stopped after {len(hook.trace)} of {iters} iterations')
    return hook.trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--first', type=int, default=50, help='iterations whose peak is the reference')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='overrides for every config')
    args = parser.parse_args()
    if not 0 < args.first < args.iters:
        parser.error(f'--first {args.first} must lie in 1..{args.iters - 1}')
    rows = []
    for config in args.configs:
        with tempfile.TemporaryDirectory() as work_dir:
            trace = soak(config, args.iters, args.cfg_options or {}, work_dir)
        first, rest = max(trace[:args.first]), max(trace[args.first:])
        rows.append((config, first, rest, 100 * (rest / first - 1)))
    unit = 'CUDA allocated' if torch.cuda.is_available() else 'resident set size'
    print(f'{args.iters} training iterations per config, memory = {unit} sampled after each iteration (MiB), '
          f'torch {torch.__version__}')
    print(f'{"config":<64}{f"max 1-{args.first}":>14}{f"max {args.first + 1}-{args.iters}":>16}{"growth %":>10}')
    for config, first, rest, growth in rows:
        print(f'{osp.basename(config):<64}{first:>14.1f}{rest:>16.1f}{growth:>10.2f}')


if __name__ == '__main__':
    main()
