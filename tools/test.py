#!/usr/bin/env python
"""Test a checkpoint with an mmengine config (detection, segmentation or classification).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE] [--show-dir DIR] [--tta]
                         [--cfg-options k=v ...] [--launcher ...] [--trust-checkpoints] [--delta-base PATH]

Metrics (COCO AP through mmdet's ``CocoMetric``, mIoU through mmseg's ``IoUMetric``, top-1/top-5) are
printed and saved as JSON in the work dir. ``--show-dir`` writes prediction overlays (needs the config's
``default_hooks.visualization``); ``--out`` saves raw predictions (a pickle for mmdet, a folder of
label maps for mmseg); ``--tta`` uses the config's ``tta_model`` and ``tta_pipeline``.
"""
import argparse
import os.path as osp

from mmengine.config import Config

import scalenet_mm  # noqa: F401
from scalenet_mm.config_tools.config_checks import check_before_run
from scalenet_mm.config_tools.tool_config import (add_common_arguments, build_runner, close_process_group,
                                                  load_tool_config, parse_tool_args)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', help='detection: dump predictions to a pickle file; segmentation: a directory '
                        'for the predicted label maps')
    parser.add_argument('--show-dir', help='directory to write prediction overlays to (a relative path is taken '
                        'under the work dir)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (tta_model, tta_pipeline)')
    add_common_arguments(parser)
    return parse_tool_args(parser)


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command-line switches applied."""
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} does not exist')
    cfg = load_tool_config(args)
    cfg.load_from = args.checkpoint
    scope = cfg.get('default_scope')
    if args.show_dir:
        hook = cfg.get('default_hooks', {}).get('visualization')
        if hook is None:
            raise ValueError(f'--show-dir needs default_hooks.visualization in {args.config}')
        hook['draw'] = True
        if scope == 'mmdet':
            hook['test_out_dir'] = args.show_dir  # mmdet puts it under work_dir/<timestamp>/
        else:
            hook['interval'] = 1
            cfg.visualizer['save_dir'] = osp.join(cfg.work_dir, args.show_dir)
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise ValueError(f'--tta needs tta_model and tta_pipeline in {args.config}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        if scope == 'mmseg':
            cfg.test_evaluator['output_dir'] = args.out
            cfg.test_evaluator['keep_results'] = True
        else:
            if not args.out.endswith(('.pkl', '.pickle')):
                raise ValueError(f'--out {args.out}: the output file must be a .pkl file')
            cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) \
                else list(cfg.test_evaluator)
            cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    return cfg


def main() -> None:
    cfg = build_config(parse_args())
    check_before_run(cfg, ('test_dataloader',), pretrained_backbone=False)
    build_runner(cfg).test()
    close_process_group()


if __name__ == '__main__':
    main()
