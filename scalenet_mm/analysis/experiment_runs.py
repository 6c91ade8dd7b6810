"""Resumable classification experiment runs on one machine: each finished run is one JSON line of
``results.jsonl`` in the work dir, appended when it finishes, so a killed experiment loses at most the run in
progress; ``setup.json`` records the settings every run shares and refuses a rerun with other settings in the
same work dir."""
import json
import os
import os.path as osp
from typing import Any, Optional

from mmengine.config import Config
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


def point_to_data(cfg: Config, data_root: str, val_split: str, train_samples: Optional[int] = None) -> None:
    """Train on ``data_root/train``, validate and test on ``data_root/<val_split>`` (class folders); with
    ``train_samples``, on the first that many training images only."""
    for loader, split in (('train_dataloader', 'train'), ('val_dataloader', val_split),
                          ('test_dataloader', val_split)):
        cfg[loader].dataset.data_root = data_root
        cfg[loader].dataset.split = split
    if train_samples:
        cfg.train_dataloader.dataset.indices = train_samples


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
