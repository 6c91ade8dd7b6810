"""tools/analysis/benchmark_backbone.py and profile_backbone.py run their main path at a tiny size for every
mode, print every ratio row and the output checks; no wall-clock assertion (timings here are noise).

Compiled runs use the ``aot_eager`` backend: the same capture (dynamo) and autograd tracing as inductor,
without inductor's C++ code generation, which takes about 100 s per graph on this machine's 2 cores; the
inductor numbers in the README come from the tool run by hand."""
import re
import subprocess
import sys

import pytest

from conftest import REPO, run_script

FORWARD = 'forward: reference / ours (speed-up)'
ADAPTER = '2x forward: ScaleNet / untied (adapter overhead)'
TRAIN_REFERENCE = 'train step: reference / ours (speed-up)'
TRAIN_2X = '2x train step: ScaleNet adapters_norms / untied'


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)


def ratio_rows(out: str) -> dict[tuple[str, str], tuple[float, str]]:
    """``{(measure, mode): (ratio, goal)}`` from the tool's tables (columns: 50 characters of measure, mode)."""
    rows = {}
    for line in out.splitlines():
        measure, rest = line[:50].strip(), line[50:].split()
        if measure in (FORWARD, ADAPTER, TRAIN_REFERENCE, TRAIN_2X):
            rows[(measure, rest[0])] = (float(rest[1]), rest[3])
    return rows


@pytest.mark.parametrize('arch, dtype', [('tiny', 'fp32'), ('tiny', 'bf16'), ('deit-tiny', 'fp32')])
def test_eager_rows_for_every_comparison(arch, dtype):
    result = run_tool('tools/analysis/benchmark_backbone.py', '--quick', '--modes', 'eager', '--dtypes', dtype,
                      '--threads', '1', '--arch', arch)
    assert result.returncode == 0, result.stderr[-3000:]
    reference = "mmseg's VisionTransformer" if arch.startswith('deit') else "mmdet's SwinTransformer"
    assert f'arch {arch} (reference: {reference})' in result.stdout
    assert f'input 1x3x64x64, {dtype}' in result.stdout
    rows = ratio_rows(result.stdout)
    assert set(rows) == {(m, 'eager') for m in (FORWARD, ADAPTER, TRAIN_REFERENCE, TRAIN_2X)}
    assert rows[(FORWARD, 'eager')][1] == '>=' and rows[(ADAPTER, 'eager')][1] == '<='
    assert all(ratio > 0 for ratio, _ in rows.values())
    check = next(line for line in result.stdout.splitlines() if line.startswith('output differences'))
    difference = float(check.split('reference eager vs ours eager ')[1].split(',')[0])
    assert difference < (1e-5 if dtype == 'fp32' else 5e-2)  # same weights, same function
    ratio = float(re.search(r'checkpoint bytes: ScaleNet-2x / source ([\d.]+)', result.stdout).group(1))
    # the shared weights are stored once: only adapters are added (Swin-T 1.05; DeiT-Ti's narrow layers 1.13)
    assert ratio == pytest.approx(1.05 if arch == 'tiny' else 1.13, abs=0.01)


@pytest.mark.parametrize('dtype', ['fp32', 'bf16'])
def test_compiled_rows_and_compiled_outputs_equal_eager(dtype):
    result = run_tool('tools/analysis/benchmark_backbone.py', '--quick', '--dtypes', dtype, '--pairs', 'reference',
                      '--passes', 'forward', '--compile-backend', 'aot_eager', '--threads', '1')
    assert result.returncode == 0, result.stderr[-3000:]
    rows = ratio_rows(result.stdout)
    assert set(rows) == {(FORWARD, 'eager'), (FORWARD, 'compile'), (FORWARD, 'eager/compile')}
    check = next(line for line in result.stdout.splitlines() if line.startswith('output differences'))
    difference = float(check.split('ours compile vs ours eager ')[1].split(',')[0])
    assert difference < 1e-5
    if dtype == 'bf16':  # every variant's error against fp32 eager, per stage, within 2x mmdet's in the same mode
        errors = {line.split(':')[0].strip(): [float(e) for e in line.split(':')[1].split('(')[0].split()]
                  for line in result.stdout.splitlines() if re.match(r'  (ours|reference) (eager|compile):', line)}
        assert set(errors) == {'ours eager', 'ours compile', 'reference eager', 'reference compile'}
        assert all(len(stages) == 4 and 0 < max(stages) < 5e-2 for stages in errors.values())
        assert 'ABOVE BOUND' not in result.stdout


def test_a_low_precision_variant_less_exact_than_twice_its_counterpart_is_flagged(capsys):
    """The bound of the bf16 check: ours compiled 10x mmdet's compiled error at one stage is flagged; within 2x is
    not (synthetic outputs around two toy models' fp32 outputs)."""
    import runpy

    import torch
    tool = runpy.run_path(str(REPO / 'tools/analysis/benchmark_backbone.py'))

    class TwoStages(torch.nn.Module):
        def forward(self, x):
            return x * 1.0, x * 2.0

    benchmark = object.__new__(tool['Benchmark'])
    benchmark.models = {'ours': TwoStages(), 'reference': TwoStages()}
    x = torch.ones(1, 4)
    exact = TwoStages()(x)

    def off_by(*relative):
        return tuple(out * (1 + r) for out, r in zip(exact, relative))

    outputs = {('reference', 'compile'): off_by(0.01, 0.01), ('ours', 'compile'): off_by(0.015, 0.1),
               ('reference', 'eager'): off_by(0.01, 0.01), ('ours', 'eager'): off_by(0.018, 0.019)}
    assert benchmark.check_precision(x, outputs) == 1
    flagged = [line for line in capsys.readouterr().out.splitlines() if 'ABOVE BOUND' in line]
    assert len(flagged) == 1 and flagged[0].startswith('  ours compile: 1.5e-02 1.0e-01')
    assert flagged[0].endswith('ABOVE BOUND at output(s) [1]')


def test_compiled_2x_train_step_row():
    # dynamo's 'eager' backend: the row's plumbing (compiling the backward is tests/test_compile.py's), in half the time
    result = run_tool('tools/analysis/benchmark_backbone.py', '--quick', '--dtypes', 'fp32', '--pairs', 'untied',
                      '--passes', 'train', '--compile-backend', 'eager', '--threads', '1')
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(ratio_rows(result.stdout)) == {(TRAIN_2X, 'eager'), (TRAIN_2X, 'compile')}


def test_budget_skips_what_does_not_fit():
    result = run_tool('tools/analysis/benchmark_backbone.py', '--quick', '--modes', 'eager', '--dtypes', 'fp32',
                      '--budget', '0', '--threads', '1')
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count('skipped: the --budget of 0 s is spent') == 4


@pytest.mark.parametrize('args, message', [
    (['--inputs', '2x800'], "input '2x800' is neither a preset"),
    (['--inputs', '1x16x16'], 'need H and W >= 32'),
    (['--repeats', '0'], '--repeats and --warmup must be at least 1'),
    (['--dtypes', 'fp16'], "invalid choice: 'fp16'"),
])
def test_bad_command_lines_are_refused_clearly(args, message):
    result = run_script('tools/analysis/benchmark_backbone.py', *args)
    assert result.returncode == 2 and message in result.stderr


def test_profile_table_has_every_category_for_ours_and_mmdet_swin():
    result = run_tool('tools/analysis/profile_backbone.py', '--size', '64', '64', '--repeats', '1', '--models',
                      'ours', 'reference', 'scalenet')
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith('category'))
    # {category: [(ms, percent) for ours, mmdet's, scalenet]}
    cell = r'([\d.]+) \(\s*([\d.]+)%\)'
    table = {line[:42].strip(): [(float(ms), float(share)) for ms, share in re.findall(cell, line)]
             for line in lines[header + 1:]}
    for category in ('window partition/reverse', 'roll', 'pad', 'mask', 'norms', 'linears', 'adapters', 'attention',
                     'total'):
        assert len(table[category]) == 3, category
    assert [share for _, share in table['total']] == [100.0] * 3
    assert [ms > 0 for ms, _ in table['adapters']] == [False, False, True]  # only ScaleNet has adapters
    assert all(ms > 0 for ms, _ in table['linears'] + table['roll'] + table['window partition/reverse'])


def test_mmdet_swin_from_its_files_without_the_compiled_ops_equals_ours():
    """The way a GPU machine with only ``mmcv-lite`` runs mmdet's Swin: its files, not ``mmdet.models``."""
    code = '''
import sys, torch
from scalenet_mm.analysis.benchmark_models import build_models, import_mmdet_swin
cls = import_mmdet_swin(from_files=True)
assert 'mmdet.models' not in sys.modules and cls.__module__.startswith('_scalenet_mm_mmdet_swin'), cls.__module__
models = build_models(('ours', 'reference'), torch.device('cpu'))
x = torch.randn(1, 3, 64, 96)
with torch.no_grad():
    print(max((a - b).abs().max().item() for a, b in zip(models['ours'](x), models['reference'](x))))
'''
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.split()[-1]) < 1e-5
