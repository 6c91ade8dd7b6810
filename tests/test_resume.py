"""Resume: a run stopped after epoch N and resumed with ``tools/train.py --resume`` ends exactly where the
uninterrupted run ends (weights, optimizer, lr schedule, logged losses), and keeps every tie."""
import json
from pathlib import Path

import pytest
import torch

from scalenet_mm.checkpoint.load import read_checkpoint

from conftest import assert_same, train_with_our_tool

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / 'configs/demo/scalenet-swin-mini-d2x_cifar10-mini.py'
# 64 images in batches of 32: 2 iterations per epoch; N = 1 epoch, 2N = 2 epochs. Mixup, RandAugment,
# random erasing and drop-path all draw random numbers; validation runs after every epoch.
OPTIONS = ['train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=32', 'train_cfg.max_epochs=2',
           'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
           'randomness.seed=0', 'randomness.deterministic=True', 'model.backbone.trainable=adapters_norms']


def train(work_dir: Path, *extra: str) -> None:
    train_with_our_tool(CONFIG, work_dir, *extra, '--cfg-options', *OPTIONS)


def logged_losses(work_dir: Path) -> dict[int, float]:
    (scalars,) = work_dir.glob('*/vis_data/scalars.json')
    rows = [json.loads(line) for line in scalars.read_text().splitlines()]
    return {row['iter']: row['loss'] for row in rows if 'loss' in row}


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume')
    train(root / 'uninterrupted')
    # the stopped run left epoch_1.pth; resuming it in a fresh work dir trains epoch 2 only
    train(root / 'resumed', '--resume', str(root / 'uninterrupted' / 'epoch_1.pth'))
    return root / 'uninterrupted', root / 'resumed'


def test_resumed_run_equals_uninterrupted_bit_for_bit(runs):
    uninterrupted, resumed = (read_checkpoint(str(d / 'epoch_2.pth')) for d in runs)
    assert_same(uninterrupted['state_dict'], resumed['state_dict'], 'state_dict')
    assert_same(uninterrupted['optimizer'], resumed['optimizer'], 'optimizer')
    assert_same(uninterrupted['param_schedulers'], resumed['param_schedulers'], 'param_schedulers')
    assert_same(uninterrupted['rng_state'], resumed['rng_state'], 'rng_state')
    assert uninterrupted['meta']['iter'] == resumed['meta']['iter'] == 4


def test_resumed_run_logs_the_same_losses_and_lr(runs):
    uninterrupted, resumed = (logged_losses(d) for d in runs)
    assert sorted(resumed) == [3, 4]
    assert {i: uninterrupted[i] for i in (3, 4)} == resumed


def test_resumed_checkpoint_keeps_ties_and_holds_each_parameter_once(runs):
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper

    from scalenet_mm.registry import MODELS
    checkpoint = read_checkpoint(str(runs[1] / 'epoch_2.pth'))
    state = checkpoint['state_dict']
    # the 2x model stores only the source blocks (2 per stage), once each, in distinct storages
    assert {k.split('.')[4] for k in state if k.startswith('backbone.stages.0.blocks.')} == {'0', '1'}
    pointers = [v.untyped_storage().data_ptr() for v in state.values() if v.numel()]
    assert len(pointers) == len(set(pointers))

    cfg = Config.fromfile(str(CONFIG))
    model = MODELS.build(dict(cfg.model, backbone=dict(cfg.model.backbone, trainable='adapters_norms')))
    model.load_state_dict(state, strict=True)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer_state = checkpoint['optimizer']
    assert len(optimizer_state['state']) == len(trainable)
    ids = [i for group in optimizer_state['param_groups'] for i in group['params']]
    assert len(ids) == len(set(ids)) == len(trainable)
    # and the optimizer mmengine builds for the loaded model agrees with the checkpoint's layout
    rebuilt = build_optim_wrapper(model, cfg.optim_wrapper)
    rebuilt.load_state_dict(optimizer_state)
    assert sum(len(g['params']) for g in rebuilt.optimizer.param_groups) == len(trainable)


def test_rng_state_survives_safe_save_and_load(tmp_path):
    import random

    import numpy as np

    from scalenet_mm.engine.rng_state_hook import capture_rng_state, restore_rng_state

    def draws():
        return random.random(), float(np.random.rand()), torch.rand(3).tolist()

    state = capture_rng_state()
    expected = draws()
    torch.save({'rng_state': state}, tmp_path / 'rng.pth')
    draws()
    restore_rng_state(torch.load(tmp_path / 'rng.pth', weights_only=True)['rng_state'])
    assert draws() == expected
