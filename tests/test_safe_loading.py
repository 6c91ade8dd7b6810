"""mmengine Runner checkpoints load under torch's safe loading through our allow-list; other pickles do not."""
import os
import pickle

import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner

import scalenet_mm  # noqa: F401  (applies the allow-list)


class TinyModel(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            return dict(loss=(out - targets).square().mean())
        return out


class TinyDataset(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> dict:
        generator = torch.Generator().manual_seed(index)
        return dict(inputs=torch.randn(2, generator=generator), targets=torch.randn(2, generator=generator))


@pytest.fixture(scope='module')
def runner_checkpoint(tmp_path_factory) -> str:
    work_dir = tmp_path_factory.mktemp('runner')
    runner = Runner(
        model=TinyModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=TinyDataset(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=4), optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        param_scheduler=dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=4),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=4, by_epoch=False)))
    runner.train()
    return os.path.join(str(work_dir), 'iter_4.pth')


def test_runner_checkpoint_with_message_hub_loads_safely(runner_checkpoint):
    checkpoint = torch.load(runner_checkpoint)  # weights_only=True is torch's default
    hub = checkpoint['message_hub']
    assert len(hub['log_scalars']['train/loss'].data[0]) == 4
    assert hub['log_scalars']['train/loss'].mean() > 0
    assert checkpoint['meta']['iter'] == 4 and 'optimizer' in checkpoint and 'param_schedulers' in checkpoint


def test_runner_resumes_from_its_checkpoint(runner_checkpoint, tmp_path):
    runner = Runner(
        model=TinyModel(), work_dir=str(tmp_path),
        train_dataloader=dict(dataset=TinyDataset(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=6), optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
        load_from=runner_checkpoint, resume=True)
    runner.train()
    assert runner.iter == 6


class Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_arbitrary_pickled_object_is_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'payload': Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        torch.load(path)


def test_getattr_is_only_allowed_on_history_buffer_statistics(tmp_path):
    class Sneaky:
        def __reduce__(self):
            return (getattr, (HistoryBuffer, 'update'))  # an allowed class, a method that is not a statistic
    path = tmp_path / 'sneaky.pth'
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(pickle.UnpicklingError, match='refusing getattr'):
        torch.load(path)


def test_trusted_opt_out_loads_what_safe_loading_refuses(tmp_path):
    """tools/convert_checkpoint.py refuses a checkpoint holding an arbitrary object, naming the opt-out;
    with --trust-checkpoints (torch's TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD underneath) it converts it."""
    import subprocess
    import sys
    from pathlib import Path

    from conftest import build
    src, dst = tmp_path / 'trusted.pth', tmp_path / 'converted.pth'
    state = build(adapter=None).state_dict()
    torch.save({'state_dict': state, 'meta': {'when': os.times()}}, src)  # posix.times_result: not allow-listed
    repo = Path(__file__).resolve().parents[1]
    command = [sys.executable, 'tools/convert_checkpoint.py', str(src), str(dst)]
    env = {k: v for k, v in os.environ.items() if k != 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'}
    refused = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and 'refused by safe loading' in refused.stderr
    assert '--trust-checkpoints' in refused.stderr and not dst.exists()
    trusted = subprocess.run([*command, '--trust-checkpoints'], cwd=repo, capture_output=True, text=True, env=env)
    assert trusted.returncode == 0, trusted.stderr[-2000:]
    assert 'safe checkpoint loading is OFF' in trusted.stderr
    converted = torch.load(dst)['state_dict']
    assert torch.equal(converted['backbone.stages.1.blocks.0.attn.w_msa.qkv.weight'],
                       state['stages.1.blocks.0.attn.w_msa.qkv.weight'])
