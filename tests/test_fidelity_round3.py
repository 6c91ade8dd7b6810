"""Fidelity round 3 and the paper's other claims: the when-to-grow runner (equal forward compute per arm, the
growth switch inside one run, resume) and the extra arms of the fidelity runner (LoRA at matched parameters,
the interleave map, deeper scales), on tiny data."""
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from scalenet_mm.analysis.param_count import count_parameters
from scalenet_mm.registry import MODELS

from conftest import run_script

REPO = Path(__file__).resolve().parents[1]
SWIN_20K = 'configs/fidelity/swin-mini_cifar10-20k.py'
TINY = ['--data', 'demo/data/cifar10_mini', '--val-split', 'val', '--train-samples', '32', '--cfg-options',
        'model.num_classes=5', 'train_dataloader.batch_size=8', 'val_dataloader.batch_size=20']


def load_tool(name: str):
    """A script of tools/analysis as a module (its ``main`` runs under ``__main__`` only)."""
    spec = importlib.util.spec_from_file_location(name, REPO / 'tools' / 'analysis' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_when_to_grow_spends_one_budget_per_arm_and_grows_inside_the_run(tmp_path):
    args = [sys.executable, 'tools/analysis/when_to_grow.py', SWIN_20K, '--work-dir', str(tmp_path),
            '--source-epochs', '2', '--grow-at', '0', '0.5', '--seeds', '0', *TINY]
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r['name']: r for r in map(json.loads, (tmp_path / 'results.jsonl').read_text().splitlines())}
    assert list(rows) == ['source_pretrain', 'source_on_seed0', 'grow_at_0_seed0', 'grow_at_50_seed0',
                          'scratch_seed0']
    source = rows['source_pretrain']
    budget = 2 * 32 * source['flops']  # B = E = 2 epochs of the source's forward FLOPs, 32 images
    assert source['compute'] == budget
    grown = rows['grow_at_0_seed0']
    one_iteration = 8 * grown['flops']  # the largest per-iteration compute of a budget run (2x, batch 8)
    for name in ('source_on_seed0', 'grow_at_0_seed0', 'grow_at_50_seed0'):
        assert abs(rows[name]['compute'] - budget) <= one_iteration / 2, name
        assert rows[name]['total_compute'] == rows[name]['compute'] + budget
    # the stack from scratch gets the source's pre-training on top: C + P, and counts no pre-training
    assert abs(rows['scratch_seed0']['compute'] - 2 * budget) <= one_iteration / 2
    assert rows['scratch_seed0']['total_compute'] == rows['scratch_seed0']['compute']
    assert rows['source_on_seed0']['iterations'] == 8  # 64 images of source compute, 8 per iteration
    before, after = rows['grow_at_50_seed0']['iterations']
    assert before > 0 and after > 0
    assert grown['iterations'][0] == 0  # grown at the start: every iteration at full depth
    log = next((tmp_path / 'grow_at_50_seed0').glob('*/*.log')).read_text()
    assert 'growth 0.0 from iteration 0: active depths (4, 4, 4, 4) -> (2, 2, 2, 2)' in log
    assert f'growth 1.0 from iteration {before}: active depths (2, 2, 2, 2) -> (4, 4, 4, 4)' in log
    assert 'growth' not in next((tmp_path / 'grow_at_0_seed0').glob('*/*.log')).read_text()
    report = (tmp_path / 'results.md').read_text()
    assert re.search(rf'\| grow_at_50 \| 50% \| {before} \+ {after} \|', report) and '5 of 5 runs finished' in report
    assert (tmp_path / 'accuracy_vs_compute.png').is_file()
    again = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert again.returncode == 0 and '5 runs planned, 5 done' in again.stdout
    assert len((tmp_path / 'results.jsonl').read_text().splitlines()) == 5


def test_when_to_grow_plan_splits_the_budget_by_forward_flops(tmp_path):
    result = run_script('tools/analysis/when_to_grow.py', SWIN_20K, '--work-dir', tmp_path, '--source-epochs', '4',
                        '--budget-epochs', '2', '--grow-at', '0', '0.25', '0.75', '--plan', *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    splits = {name: (int(a), int(b)) for name, a, b in re.findall(r'  (\w+): (\d+) \+ (\d+) iterations', result.stdout)}
    assert splits['source_on'] == (8, 0)  # 2 epochs of 32 images, batch 8
    # the grown arms: a share of the budget at growth 0 (a bit over the source's FLOPs: the source positions'
    # adapters), the rest at 2x (about twice the source's); later growth means more iterations in all
    assert splits['grow_at_0'][0] == 0 and 3 <= splits['grow_at_0'][1] <= 4
    assert splits['grow_at_25'][0] < splits['grow_at_75'][0] and splits['grow_at_25'][1] > splits['grow_at_75'][1]
    assert splits['scratch'][0] == pytest.approx((2 + 4) * 32 / 8 / 1.93, abs=1)  # C + P at the stack's FLOPs
    assert 'to run: source_pretrain' in result.stdout and not (tmp_path / 'results.jsonl').exists()


def test_when_to_grow_time_limit_starts_no_run_once_spent(tmp_path):
    """A spent ``--time-limit`` (here 0 s) stops before the next run and says how many a rerun would do."""
    result = run_script('tools/analysis/when_to_grow.py', SWIN_20K, '--work-dir', tmp_path, '--source-epochs', '2',
                        '--arms', 'source_on', '--seeds', '0', '1', '--time-limit', '0', *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'the --time-limit of 0 s is spent: 3 run(s) left for a rerun' in result.stdout
    assert not (tmp_path / 'results.jsonl').exists() and not (tmp_path / 'source_pretrain').exists()


@pytest.mark.parametrize('bad, message', [
    (['--grow-at', '1'], 'must be distinct shares in [0, 1)'),
    (['--grow-at', '0.5', '0.5'], 'must be distinct shares in [0, 1)'),
    (['--arms', 'grow_at_10'], "unknown arm(s) ['grow_at_10']"),
    (['--budget-epochs', '0'], '--budget-epochs 0.0 must be positive'),
    (['--warmup-epochs', '-1'], '--warmup-epochs -1.0 must be >= 0'),
])
def test_when_to_grow_refuses_bad_requests_before_training(tmp_path, bad, message):
    result = run_script('tools/analysis/when_to_grow.py', SWIN_20K, '--work-dir', tmp_path, *TINY[:4], *bad)
    assert result.returncode == 2 and message in result.stderr
    assert not (tmp_path / 'setup.json').exists()


def test_runners_refuse_a_recorded_source_whose_checkpoint_is_gone(tmp_path):
    """A work dir restored from published rows: the next arm needs the source's weights, which are not there."""
    common = ['--work-dir', tmp_path, '--seeds', '0', *TINY]
    for script, extra in (('fidelity_experiment.py', ['--epochs', '2', '--fractions', '1', '--variants', 'scalenet']),
                          ('when_to_grow.py', ['--source-epochs', '2', '--arms', 'source_on'])):
        run_script(f'tools/analysis/{script}', SWIN_20K, *common, *extra, '--plan')  # writes setup.json
        gone = str(tmp_path / 'source_pretrain' / 'epoch_2.pth')
        (tmp_path / 'results.jsonl').write_text(json.dumps(dict(
            name='source_pretrain', variant='source_pretrain', arm='source_pretrain', epochs=2, seed=0, top1=20.0,
            train_seconds=1.0, compute=1, checkpoint=gone)) + '\n')
        result = run_script(f'tools/analysis/{script}', SWIN_20K, *common, *extra)
        assert result.returncode == 1, (script, result.stderr[-2000:])
        assert f'{gone} is missing: put it back, or delete the source_pretrain line' in result.stderr, script
        (tmp_path / 'setup.json').unlink()


def backbone_of(overrides: dict):
    cfg = Config.fromfile(REPO / SWIN_20K)
    cfg.model.backbone.update(overrides)
    return MODELS.build(cfg.model).backbone


def test_lora_arm_trains_as_many_parameters_as_the_parallel_adapter_arm():
    fidelity = load_tool('fidelity_experiment')
    arms = fidelity.variants(8, 0.2, claims=True, deep_scales=(3, 4), deep_dims=(8, 32))
    counts = {name: count_parameters(backbone_of(arms[name].backbone))['total'].trainable
              for name in ('scalenet', 'scalenet_lora', 'scalenet_lora_mlp', 'scalenet_interleave')}
    assert counts['scalenet_lora'] == counts['scalenet_lora_mlp'] == counts['scalenet'] == \
        counts['scalenet_interleave']
    assert fidelity.matched_lora_rank(8) == 5 and fidelity.matched_lora_rank(32) == 20
    assert arms['scalenet_lora'].backbone['adapter'] == dict(type='lora', targets=('fc1', 'fc2', 'qkv', 'proj'),
                                                             dim=5)
    every = {name: arm.only_fraction for name, arm in arms.items() if arm.only_fraction is not None}
    assert set(every) == {'scratch', 'scalenet_lora', 'scalenet_lora_mlp', 'scalenet_interleave', 'scalenet_3x_w8',
                          'scalenet_3x_w32', 'scalenet_4x_w8', 'scalenet_4x_w32'}
    assert all(every[name] == pytest.approx(1 / 3) for name in every if name != 'scratch')


@pytest.mark.parametrize('name, depths, sources', [
    ('scalenet_interleave', (4, 4, 4, 4), [0, 0, 1, 1]),
    ('scalenet_3x_w32', (6, 6, 6, 6), [0, 1, 0, 1, 0, 1]),
    ('scalenet_4x_w8', (8, 8, 8, 8), [0, 1] * 4),
])
def test_claim_arms_build_the_map_and_depth_they_name(name, depths, sources):
    arm = load_tool('fidelity_experiment').variants(8, 0.2, claims=True, deep_scales=(3, 4), deep_dims=(8, 32))[name]
    backbone = backbone_of(arm.backbone)
    assert backbone.scaled_depths == depths
    assert list(backbone.stages[0].plan.layer_map) == sources
    width = arm.backbone['adapter']['dim']
    assert all(adapter.down.out_features == width for adapter in backbone.stages[0].adapters[0].values())


def test_vit_rerun_config_anneals_every_iteration_and_takes_the_claim_arms(tmp_path):
    """The round-3 ViT (patch 8, 4 layers) steps its warm-up and cosine every iteration: the learning rate falls
    within an epoch, not only between epochs; its interleave arm builds (the Swin-only shift policy dropped)."""
    result = subprocess.run(
        [sys.executable, 'tools/analysis/fidelity_experiment.py', 'configs/fidelity/vit-mini-p8_cifar10-20k.py',
         '--work-dir', str(tmp_path), '--epochs', '4', '--fractions', '1', '--seeds', '0', '--claims',
         '--variants', 'scalenet_interleave', '--sweep-fraction', '0.5', *TINY, 'default_hooks.logger.interval=1'],
        cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (tmp_path / 'results.jsonl').read_text().splitlines()]
    assert [r['name'] for r in rows] == ['source_pretrain', 'scalenet_interleave_e2_seed0']
    assert 1.2e6 < rows[0]['unique_params'] < 2e6  # 4 layers of width 192
    scalars = next((tmp_path / 'source_pretrain').glob('*/vis_data/scalars.json')).read_text().splitlines()
    lrs = {row['iter']: row['lr'] for row in map(json.loads, scalars) if 'lr' in row}
    assert sorted(lrs) == list(range(1, 17))  # 4 epochs of 4 iterations
    warmup, cosine = [lrs[i] for i in range(1, 9)], [lrs[i] for i in range(9, 17)]
    assert warmup == sorted(warmup) and warmup[0] == pytest.approx(1e-5) and cosine[0] == pytest.approx(1e-3, rel=0.05)
    assert all(b < a for a, b in zip(cosine, cosine[1:]))  # falls at every iteration of epochs 3 and 4
