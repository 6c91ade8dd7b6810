"""Multi-process training on one machine: tools/dist_train.sh with 2 processes (gloo on CPU) trains the
Mask R-CNN and UperNet demo configs with non-reentrant checkpointing and frozen shared weights; afterwards
every rank holds identical weights, and DDP keeps ties and sums shared gradients over positions."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from scalenet_mm.checkpoint.load import read_checkpoint
from scalenet_mm.config_tools.tool_config import close_process_group
from scalenet_mm.engine.rank_consistency_hook import weights_digest

from conftest import build, perturb_, untied_copy

REPO = Path(__file__).resolve().parents[1]
# the demos' custom_hooks lists become [RankConsistencyHook] (Mask R-CNN: [RNGStateHook]) and
# [RankConsistencyHook, RNGStateHook] (UperNet: [RNGStateHook, EvaluateBeforeTrainHook])
DEMOS = {
    'mask-rcnn': (REPO / 'configs/demo/mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py', 29531,
                  ['custom_hooks.0.type=scalenet_mm.RankConsistencyHook']),
    'upernet': (REPO / 'configs/demo/upernet_scalenet-swin-mini-d2x_ade20k-mini.py', 29532,
                ['custom_hooks.0.type=scalenet_mm.RankConsistencyHook',
                 'custom_hooks.1.type=scalenet_mm.RNGStateHook']),
}


@pytest.mark.parametrize('task', list(DEMOS))
def test_dist_train_two_processes_leaves_identical_weights_on_every_rank(task, tmp_path):
    config, port, hooks = DEMOS[task]
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(tmp_path), '--cfg-options',
         'train_cfg.max_iters=3', 'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3',
         *hooks,
         'model.backbone.with_cp=True', 'model.backbone.trainable=adapters_norms'],
        cwd=REPO, capture_output=True, text=True,
        env={**os.environ, 'PORT': str(port), 'OMP_NUM_THREADS': '1', 'PYTHON': sys.executable})
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    (digests,) = re.findall(r'weights digest per rank at iteration 3: \[(.*?)\]', log)
    digests = [d.strip(" '") for d in digests.split(',')]
    assert len(digests) == 2 and digests[0] == digests[1]
    checkpoint = read_checkpoint(str(tmp_path / 'iter_3.pth'))
    assert checkpoint['meta']['iter'] == 3
    state = {k[len('backbone.'):]: v for k, v in checkpoint['state_dict'].items() if k.startswith('backbone.')}
    assert any(k.startswith('stages.0.adapters.') for k in state)
    if task == 'upernet':
        assert 'SyncBN layer config(s) trained as per-process BN' in log


def test_weights_digest_sees_a_one_ulp_change():
    model = build(depth_scale=2)
    before = weights_digest(model)
    with torch.no_grad():
        p = model.stages[1].blocks[0].attn.w_msa.qkv.weight
        p[0, 0] = torch.nextafter(p[0, 0], torch.tensor(float('inf')))
    assert weights_digest(model) != before


def os_threads() -> int:
    return len(os.listdir('/proc/self/task'))


def test_close_process_group_joins_gloo_threads_held_by_an_unreachable_runner(tmp_path):
    """A runner's reference cycles keep DDP's reducer and the group alive; gloo worker threads left running
    into interpreter exit abort the process (pytorch/pytorch#190489), so they must be gone afterwards."""
    before = os_threads()
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    runner = {'model': DistributedDataParallel(torch.nn.Linear(2, 2))}
    runner['self'] = runner
    out = [None]
    dist.all_gather_object(out, 'digest')
    assert os_threads() > before
    del runner
    close_process_group()
    assert not dist.is_initialized() and os_threads() == before


@pytest.fixture
def process_group(tmp_path):
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def test_ddp_keeps_ties_and_sums_shared_gradients_over_positions(process_group):
    model = perturb_(build(depth_scale=2, trainable='all'))
    reference = untied_copy(model, arch=model.arch, depth_scale=2, window_size=4, drop_path_rate=0.0)
    wrapped = DistributedDataParallel(model)
    x = torch.randn(2, 3, 64, 64)
    wrapped(x)[-1].square().mean().backward()
    reference(x)[-1].square().mean().backward()
    # one parameter object per source block, still shared by its positions inside the wrapper
    unique = {id(p) for p in wrapped.parameters()}
    assert len(unique) == len(list(model.parameters()))
    for s, stage in enumerate(model.stages):
        for b, block in enumerate(stage.blocks):
            grad = block.ffn.layers[1].weight.grad
            positions = [p for p, src in enumerate(stage.position_block) if src == b]
            expected = sum(reference.stages[s].blocks[p].ffn.layers[1].weight.grad for p in positions)
            torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)
