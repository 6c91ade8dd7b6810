#!/usr/bin/env python
"""Train with an mmengine config: detection (mmdet), segmentation (mmseg) or classification configs alike.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--auto-scale-lr]
                          [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi] [--trust-checkpoints]
                          [--delta-base PATH]

The arguments are mmdet's/mmseg's. ``scalenet_mm`` is imported first, so its registry scope and the
safe-loading allow-list (``--resume``, ``load_from``) are in place whatever the config's scope.
"""
import argparse
import logging
import os.path as osp
from typing import Any

import torch
from mmengine.config import Config
from mmengine.logging import print_log

import scalenet_mm  # noqa: F401
from scalenet_mm.config_tools.config_checks import check_before_run
from scalenet_mm.config_tools.tool_config import (add_common_arguments, build_runner, close_process_group,
                                                  load_tool_config, parse_tool_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector, segmentor or classifier')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', help='enable automatic-mixed-precision training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by (total batch size / auto_scale_lr.base_batch_size)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT (an error if it cannot be read), or without a value from the latest '
                             'checkpoint of the work dir (the newest readable one, with a warning, if the file '
                             'last_checkpoint names cannot be read; CrashSafeCheckpointHook)')
    add_common_arguments(parser)
    return parse_tool_args(parser)


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command-line switches applied (validated before anything is built)."""
    cfg = load_tool_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError(f'--auto-scale-lr needs auto_scale_lr=dict(enable=False, base_batch_size=N) in '
                             f'{args.config}')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f'--resume {args.resume}: no such checkpoint file')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def replace_sync_bn(node: Any) -> int:
    """Turn every ``norm_cfg`` of type SyncBN inside a config node into BN; returns how many."""
    count = 0
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
            count += 1
        for value in node.values():
            count += replace_sync_bn(value)
    elif isinstance(node, (list, tuple)):
        count += sum(replace_sync_bn(value) for value in node)
    return count


def adapt_to_cpu_processes(cfg: Config) -> None:
    """Distributed training without CUDA: BN instead of SyncBN (torch's SyncBN needs a GPU), a gloo process group
    opened here and DDP without ``device_ids`` (mmengine 0.10.7 assumes a GPU for both)."""
    if cfg.launcher == 'none' or torch.cuda.is_available():
        return
    if cfg.launcher != 'pytorch':
        raise ValueError(f'--launcher {cfg.launcher} without CUDA is not supported; use tools/dist_train.sh (pytorch)')
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend='gloo')
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                                     find_unused_parameters=cfg.get('find_unused_parameters', False))
    replaced = replace_sync_bn(cfg.model)
    if replaced:
        print_log(f'no CUDA device: {replaced} SyncBN layer config(s) trained as per-process BN, backend gloo',
                  logger='current', level=logging.WARNING)


def main() -> None:
    cfg = build_config(parse_args())
    adapt_to_cpu_processes(cfg)
    check_before_run(cfg, ('train_dataloader', 'val_dataloader') if cfg.get('val_cfg') is not None
                     else ('train_dataloader',))
    build_runner(cfg).train()
    close_process_group()


if __name__ == '__main__':
    main()
