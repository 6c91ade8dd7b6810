"""Resumable classification experiment runs on one machine: each finished run is one JSON line of
``results.jsonl`` in the work dir, appended when it finishes, so a killed experiment loses at most the run in
progress; ``setup.json`` records the settings every run shares and refuses a rerun with other settings in the
same work dir."""
import argparse
import copy
import json
import os
import os.path as osp
from typing import Any, Optional

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from .active_clock import ActiveClock
from .flops import count_flops
from .param_count import count_parameters


def load_results(path: str) -> dict[str, dict]:
    """Runs already recorded in the ``results.jsonl`` at ``path``, by run name (empty if there is none)."""
    if not osp.exists(path):
        return {}
    with open(path) as f:
        return {row['name']: row for row in map(json.loads, f)}


def append_result(path: str, row: dict[str, Any]) -> None:
    """Append one finished run to the ``results.jsonl`` at ``path``."""
    with open(path, 'a') as f:
        f.write(json.dumps(row) + '\n')


def check_same_setup(work_dir: str, setup: dict[str, Any]) -> None:
    """Record the settings that shape every run in ``work_dir/setup.json``; ``ValueError`` naming the changed
    settings if the work dir holds runs of another setup."""
    path = osp.join(work_dir, 'setup.json')
    setup = json.loads(json.dumps(setup))  # as it reads back (tuples become lists)
    if osp.exists(path):
        with open(path) as f:
            recorded = json.load(f)
        if recorded != setup:
            changed = sorted(k for k in set(recorded) | set(setup) if recorded.get(k) != setup.get(k))
            raise ValueError(f'{work_dir} holds runs of another setup (changed: {changed}); use another --work-dir '
                             'or delete it')
    else:
        os.makedirs(work_dir, exist_ok=True)
        with open(path, 'w') as f:
            json.dump(setup, f, indent=1)


def recorded_checkpoint(row: dict[str, Any]) -> str:
    """The checkpoint of a run recorded in ``results.jsonl``; ``FileNotFoundError`` saying how to recover when
    it is gone (a work dir restored from published rows holds no checkpoints)."""
    if not osp.isfile(row['checkpoint']):
        raise FileNotFoundError(f"run {row['name']} is recorded in results.jsonl but its checkpoint "
                                f"{row['checkpoint']} is missing: put it back, or delete the {row['name']} line from "
                                'results.jsonl to train it again')
    return row['checkpoint']


def format_seconds(seconds: float) -> str:
    """``h:mm`` (unknown before the first run finishes)."""
    if seconds <= 0:
        return 'unknown until a run finishes'
    minutes = int(round(seconds / 60))
    return f'{minutes // 60}:{minutes % 60:02d} (h:mm)'


def add_run_arguments(parser: argparse.ArgumentParser, config_help: str) -> None:
    """The arguments every runner takes: CONFIG, ``--data``, ``--val-split``, ``--work-dir``, ``--train-samples``
    and ``--cfg-options`` (read by :func:`prepare_run`; check the folders with :func:`data_folders_error`)."""
    parser.add_argument('config', help=config_help)
    parser.add_argument('--data', required=True, help='dataset root with train/<class>/ and <val-split>/<class>/')
    parser.add_argument('--val-split', default='val', help='evaluation folder under --data (test/ for CIFAR)')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--train-samples', type=int, help='use only the first N training images (tests)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')


def data_folders_error(args: argparse.Namespace) -> Optional[str]:
    """What is wrong with ``--data`` (no ``train/`` or ``<val-split>/`` folder), or None."""
    if not osp.isdir(osp.join(args.data, 'train')) or not osp.isdir(osp.join(args.data, args.val_split)):
        return f'--data {args.data!r} must hold train/ and {args.val_split}/ class folders'
    return None


def prepare_run(base: Config, args: argparse.Namespace, name: str, seed: int,
                backbone: Optional[dict[str, Any]] = None, source_ckpt: Optional[str] = None) -> Config:
    """A copy of ``base`` for run ``name``: the data of ``args`` (train on ``train/``, validate and test on
    ``<val_split>/``, the first ``train_samples`` images if set), the seed, ``backbone`` overrides, the source
    checkpoint's backbone (``init_cfg``) and head (``head_init``) if given, and ``work_dir/name``. The caller
    sets the schedule."""
    cfg = copy.deepcopy(base)
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', args.val_split),
                          ('test_dataloader', args.val_split)):
        cfg[loader].dataset.data_root = args.data
        cfg[loader].dataset.split = split
    if args.train_samples:
        cfg.train_dataloader.dataset.indices = args.train_samples
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.model.backbone.update(backbone or {})
    if source_ckpt is not None:
        cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=source_ckpt, prefix='backbone.')
        cfg.model.head_init = dict(checkpoint=source_ckpt, prefix='head.')
    cfg.work_dir = osp.join(args.work_dir, name)
    cfg.experiment_name = name  # unique: several Runners live in this process
    return cfg


def train_and_measure(cfg: Config) -> dict[str, Any]:
    """Train a classifier config, evaluating at the end: top-1 (``val/accuracy/top1``), unique / trainable /
    total parameters, forward FLOPs per image at the trained depth (``C x S x S`` input, S the val pipeline's
    ``input_size``), training wall time without stopped intervals, and the last checkpoint's path."""
    runner = Runner.from_cfg(cfg)
    with ActiveClock() as clock:  # a stopped run (kill -STOP / -CONT) does not count the pause
        model = runner.train()
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    counts = count_parameters(model)['total']
    size = cfg.val_dataloader.dataset.pipeline[0].input_size
    flops = count_flops(model, (3, size, size)).total()
    last = (f'iter_{cfg.train_cfg.max_iters}.pth' if 'max_iters' in cfg.train_cfg
            else f'epoch_{cfg.train_cfg.max_epochs}.pth')
    return dict(top1=float(top1), unique_params=counts.unique, trainable_params=counts.trainable,
                total_params=counts.total, flops=flops, train_seconds=clock.seconds,
                checkpoint=osp.join(cfg.work_dir, last))
