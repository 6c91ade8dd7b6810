"""tools/analysis: FLOPs against mmdet's Swin, curves from mmengine logs, config-vs-baseline benchmark, memory
soak and the fidelity experiment, on tiny configs."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scalenet_mm.analysis.flops import count_flops

from conftest import build, run_script

REPO = Path(__file__).resolve().parents[1]
CLS_DEMO = REPO / 'configs/demo/scalenet-swin-mini-d2x_cifar10-mini.py'
DET_DEMO = REPO / 'configs/demo/mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py'


def run_tool(*args: str) -> str:
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def plan_of(*args: str) -> str:
    """What ``python SCRIPT ARGS --plan`` of the fidelity runner prints (it trains nothing: run in-process)."""
    result = run_script(*args, '--plan')
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_flops_equal_mmdet_swin_counted_with_plain_matmuls():
    """mmdet's Swin computes attention with matmuls (counted by mmengine); ours with SDPA (our handle)."""
    from mmdet.models.backbones import SwinTransformer
    ours = build(adapter=None)
    theirs = SwinTransformer(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=4)
    shape = (3, 64, 96)
    assert count_flops(ours, shape).total() == count_flops(theirs, shape).total()


def test_flops_of_shared_and_untied_2x_are_equal_and_adapters_add_their_matmuls():
    shape = (3, 64, 64)
    shared = count_flops(build(depth_scale=2, adapter=None), shape).total()
    untied = count_flops(build(depth_scale=2, unshare=True, adapter=None), shape).total()
    assert shared == untied
    dim = 4
    adapted = count_flops(build(depth_scale=2, adapter=dict(type='parallel', targets=('fc1',), dim=dim)), shape)
    # fc1 adapter per position: tokens x (C x r + r x 4C) multiply-adds
    tokens = [(64 // 4 // 2 ** s) ** 2 for s in range(4)]
    expected = sum(4 * t * (c * dim + dim * 4 * c) for t, c in zip(tokens, (16, 32, 64, 128)))
    assert adapted.total() - shared == expected


def test_flops_refuse_to_undercount_a_matrix_product_without_handle():
    class MatrixVector(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(4, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.addmv(x[0, 0, 0], self.weight, x[0, 0, 0])  # aten::addmv: no mmengine handle

    with pytest.raises(NotImplementedError, match=r"no FLOP handle for \['aten::addmv'\]"):
        count_flops(MatrixVector(), (1, 4, 4))


def test_get_flops_tool_whole_detector_and_backbone():
    out = run_tool('tools/analysis/get_flops.py', str(DET_DEMO), '--shape', '128', '160')
    assert 'MaskRCNN' in out and 'backbone.stages.3' in out and 'roi_head' in out
    total = float(next(line.split()[-1] for line in out.splitlines() if line.startswith('total')))
    backbone = float(next(line.split()[-1] for line in out.splitlines() if line.startswith('backbone ')))
    assert 0 < backbone < total
    out = run_tool('tools/analysis/get_flops.py', str(DET_DEMO), '--shape', '128', '160', '--backbone-only')
    assert float(next(line.split()[-1] for line in out.splitlines() if line.startswith('total'))) == pytest.approx(
        backbone, abs=2e-3)


def write_log(path: Path) -> None:
    rows = [dict(lr=1e-3 * i, loss=2.0 - 0.1 * i, epoch=1, iter=i, step=i, time=0.1) for i in range(1, 5)]
    rows.append({'accuracy/top1': 42.0, 'step': 1})
    path.parent.mkdir(parents=True)
    path.write_text(''.join(json.dumps(r) + '\n' for r in rows))


def test_plot_curves_writes_a_png_with_every_scalar(tmp_path):
    log = tmp_path / 'run' / '20260101_000000' / 'vis_data' / 'scalars.json'
    write_log(log)
    out = run_tool('tools/analysis/plot_curves.py', str(log), '--out', str(tmp_path / 'curves.png'))
    assert 'loss, lr, accuracy/top1' in out
    assert (tmp_path / 'curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_plot_curves_stats_summarise_grad_norm_per_log(tmp_path):
    """grad_norm is bookkeeping (not plotted by default) but plotted and summarised when named."""
    logs = []
    for name, norms in (('adapters', [1.0, 2.0, 3.0]), ('plain', [4.0, 4.0])):
        log = tmp_path / name / 'x' / 'vis_data' / 'scalars.json'
        log.parent.mkdir(parents=True)
        log.write_text(''.join(json.dumps(dict(grad_norm=v, loss=1.0, iter=i)) + '\n' for i, v in enumerate(norms)))
        logs.append(str(log))
    result = run_script('tools/analysis/plot_curves.py', *logs, '--keys', 'grad_norm', '--stats', '--out',
                        tmp_path / 'grad.png')
    assert result.returncode == 0, result.stderr
    assert 'adapters grad_norm: 3 points, mean 2, sd 1, min 1, max 3, last 3' in result.stdout
    assert 'plain grad_norm: 2 points, mean 4, sd 0, min 4, max 4, last 4' in result.stdout
    assert (tmp_path / 'grad.png').is_file()


def test_plot_curves_errors_name_the_problem(tmp_path):
    log = tmp_path / 'run' / 'x' / 'vis_data' / 'scalars.json'
    write_log(log)
    result = run_script('tools/analysis/plot_curves.py', log, '--keys', 'mIoU', '--out', tmp_path / 'a.png')
    assert result.returncode != 0 and "['mIoU'] are in none of the logs" in result.stderr
    log.write_text('{"loss": 1.0, "iter": 1}\nnot json\n')
    result = run_script('tools/analysis/plot_curves.py', log, '--out', tmp_path / 'b.png')
    assert result.returncode != 0 and 'scalars.json:2 is not a JSON line' in result.stderr


def test_benchmark_prints_ratios_against_the_baseline():
    batches = ['train_dataloader.batch_size=8', 'val_dataloader.batch_size=8']
    out = run_tool('tools/analysis/benchmark.py', str(CLS_DEMO), str(CLS_DEMO), '--repeats', '2', '--warmup', '1',
                   '--batches', '1', '--cfg-options', *batches, '--baseline-cfg-options', *batches,
                   'model.backbone.depth_scale=1')
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith('measure'))
    rows = {line[:28].strip(): line.split() for line in lines[header + 1:]}
    assert set(rows) == {'train step (ms)', 'train images / s', 'inference batch (ms)', 'train step peak +MiB'}
    step = [float(v) for v in rows['train step (ms)'][-3:]]
    assert step[2] == pytest.approx(step[0] / step[1], rel=1e-2)


def test_soak_reports_growth_over_the_first_iterations():
    out = run_tool('tools/analysis/soak.py', str(CLS_DEMO), '--iters', '6', '--first', '3', '--cfg-options',
                   'train_dataloader.batch_size=8')
    line = next(line for line in out.splitlines() if line.startswith(CLS_DEMO.name))
    first, rest, growth = (float(v) for v in line.split()[1:])
    # the tool prints MiB to 0.1 and growth to 0.01 %: recomputing from the rounded MiB moves it by up to
    # 100 * 0.05 / first * (1 + rest / first), about 0.011 at ~960 MiB, so allow 0.02
    assert first > 0 and growth == pytest.approx(100 * (rest / first - 1), abs=0.02)


def test_fidelity_experiment_end_to_end_on_the_bundled_subset(tmp_path):
    args = ['tools/analysis/fidelity_experiment.py', 'configs/fidelity/swin-mini_cifar10-subset.py', '--data',
            'demo/data/cifar10_mini', '--val-split', 'val', '--work-dir', str(tmp_path), '--epochs', '2',
            '--fractions', '1', '--seeds', '0', '1', '--variants', 'scalenet', 'stack', 'scratch',
            '--train-samples', '64', '--cfg-options', 'model.num_classes=5']
    out = run_tool(*args)
    rows = [json.loads(line) for line in (tmp_path / 'results.jsonl').read_text().splitlines()]
    assert [r['name'] for r in rows] == ['source_pretrain'] + [
        f'{v}_e2_seed{s}' for s in (0, 1) for v in ('scalenet', 'stack', 'scratch')]
    by = {r['name']: r for r in rows}
    source, scalenet, stack = by['source_pretrain'], by['scalenet_e2_seed0'], by['stack_e2_seed0']
    # sharing: ScaleNet adds only adapters to the source's unique weights; the stack doubles the blocks
    assert source['unique_params'] < scalenet['unique_params'] < stack['unique_params']
    assert scalenet['trainable_params'] < 0.2 * scalenet['unique_params']
    assert 1.9 < stack['flops'] / source['flops'] < 2.0 < scalenet['flops'] / source['flops'] < 2.2
    assert '| scalenet | 2 | 2 |' in (tmp_path / 'results.md').read_text() and '| scratch | 2 | 2 |' in out
    assert (tmp_path / 'accuracy_vs_time.png').is_file()
    # a second call finds every run in results.jsonl and trains nothing
    run_tool(*args)
    assert len((tmp_path / 'results.jsonl').read_text().splitlines()) == len(rows)


def test_gpu_experiment_script_runs_both_experiments_at_tiny_size_on_cpu(tmp_path):
    """The GPU script's three experiments (mini Swin, the DeiT-Tiny-wide ViT with its schedule stepped every
    iteration, when to grow) on 8 bundled images, one arm, 2 epochs, from a .tar of the data as a GPU machine
    receives it; then a zero budget starts nothing."""
    import tarfile
    with tarfile.open(tmp_path / 'data.tar', 'w') as tar:
        tar.add(REPO / 'demo/data/cifar10_mini', arcname='cifar10_mini')
    env = {**os.environ, 'PYTHON': sys.executable, 'VAL_SPLIT': 'val', 'SEEDS': '0',
           'LOADERS': 'train_dataloader.batch_size=4 val_dataloader.batch_size=8',
           'CFG_OPTIONS': 'model.num_classes=5 default_hooks.logger.interval=1',
           'WHEN_TO_GROW_ARGS': '--source-epochs 2 --grow-at 0.5 --arms grow_at_50 --train-samples 8'}
    command = ['bash', 'tools/analysis/fidelity_experiment_gpu.sh', str(tmp_path / 'data.tar'), str(tmp_path / 'out'),
               '--epochs', '2', '--fractions', '1', '--variants', 'scalenet', '--train-samples', '8']
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    for experiment in ('swin', 'vit'):
        rows = [json.loads(line) for line in (tmp_path / 'out' / experiment / 'results.jsonl').read_text().splitlines()]
        assert [r['name'] for r in rows] == ['source_pretrain', 'scalenet_e2_seed0'], experiment
        assert (tmp_path / 'out' / experiment / 'accuracy_vs_total_time.png').is_file()
    vit = json.loads((tmp_path / 'out' / 'vit' / 'results.jsonl').read_text().splitlines()[0])
    assert 2.5e6 < vit['unique_params'] < 3e6  # 6 layers of width 192: DeiT-Tiny's width at half its depth
    scalars = next((tmp_path / 'out' / 'vit' / 'source_pretrain').glob('*/vis_data/scalars.json')).read_text()
    lrs = [row['lr'] for row in map(json.loads, scalars.splitlines()) if 'lr' in row]
    assert len(lrs) == 4 and lrs[0] < lrs[1] and lrs[2] > lrs[3]  # 2 epochs of 2 iterations: moves within each
    grown = (tmp_path / 'out' / 'when_to_grow' / 'results.jsonl').read_text().splitlines()
    assert [json.loads(line)['name'] for line in grown] == ['source_pretrain', 'grow_at_50_seed0']
    again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={**env, 'BUDGET_S': '0'})
    assert again.returncode == 0 and again.stdout.count('budget of 0 s spent') == 3


def test_fidelity_second_round_arms_plan_and_time_estimate(tmp_path):
    """The width sweep runs at its one schedule, the gated arm starts from the source, --plan trains nothing,
    and every run after the first prints an estimate of the time left."""
    common = ['tools/analysis/fidelity_experiment.py', 'configs/fidelity/swin-mini_cifar10-20k.py', '--data',
              'demo/data/cifar10_mini', '--val-split', 'val', '--work-dir', str(tmp_path), '--epochs', '4',
              '--fractions', '1', '--seeds', '0', '--variants', 'scalenet_gated', 'scalenet_w4', '--sweep-dims', '4',
              '--sweep-fraction', '0.5', '--train-samples', '32', '--cfg-options', 'model.num_classes=5',
              'train_dataloader.batch_size=16', 'val_dataloader.batch_size=20']
    plan = plan_of(*common)
    assert '3 runs planned, 0 done; estimated time left unknown until a run finishes' in plan
    assert not (tmp_path / 'results.jsonl').exists()
    out = run_tool(*common)
    rows = [json.loads(line) for line in (tmp_path / 'results.jsonl').read_text().splitlines()]
    assert [r['name'] for r in rows] == ['source_pretrain', 'scalenet_gated_e4_seed0', 'scalenet_w4_e2_seed0']
    assert re.search(r'\[2/3\] scalenet_gated_e4_seed0: estimated time left 0:\d\d \(h:mm\)', out)
    by = {r['name']: r for r in rows}
    # the sweep arm's adapters are 4 wide (the gated arm's 8) and only adapters, norms and gates train
    assert by['scalenet_w4_e2_seed0']['trainable_params'] < by['scalenet_gated_e4_seed0']['trainable_params']
    assert (tmp_path / 'accuracy_vs_total_time.png').is_file()
    assert '3 runs planned, 3 done' in plan_of(*common)
    assert '3 of 3 runs finished' in (tmp_path / 'results.md').read_text()
    # --plan of a partly finished experiment writes the tables and plots of what finished
    (tmp_path / 'results.jsonl').write_text('\n'.join(json.dumps(r) for r in rows[:2]) + '\n')
    (tmp_path / 'accuracy_vs_time.png').unlink()
    partial = plan_of(*common)
    assert '3 runs planned, 2 done' in partial and 'to run: scalenet_w4_e2_seed0' in partial
    assert '2 of 3 runs finished' in (tmp_path / 'results.md').read_text()
    assert (tmp_path / 'accuracy_vs_time.png').is_file()
