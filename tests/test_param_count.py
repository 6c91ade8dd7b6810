"""count_parameters: multiplicity, unique and trainable counts against an untied model."""
from scalenet_mm.analysis.param_count import count_parameters, format_parameter_table

from conftest import SMALL_ARCH, build


def test_counts_against_untied_model():
    shared = build(depth_scale=2, trainable='adapters_norms')
    untied = build(depth_scale=2, unshare=True)
    counts, untied_counts = count_parameters(shared), count_parameters(untied)
    assert counts['total'].total == untied_counts['total'].unique == untied_counts['total'].total
    assert counts['total'].unique == sum(p.numel() for p in shared.parameters())
    assert counts['total'].trainable == sum(p.numel() for p in shared.parameters() if p.requires_grad)
    for s in range(4):
        assert counts[f'stages.{s}'].total == untied_counts[f'stages.{s}'].unique
        assert counts[f'stages.{s}'].unique < counts[f'stages.{s}'].total
    assert 'stages.3' in format_parameter_table(counts)


def test_scale_one_has_no_multiplicity():
    counts = count_parameters(build(arch=SMALL_ARCH, adapter=None))
    assert counts['total'].total == counts['total'].unique == counts['total'].trainable


def test_count_params_tool_prints_the_table_for_a_config():
    import subprocess
    import sys
    from pathlib import Path
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, 'tools/analysis/count_params.py',
                             'configs/scalenet/mask-rcnn_scalenet-swin-t-d2x-frozen_in1k-pre_fpn_1x_coco.py'],
                            cwd=repo, capture_output=True, text=True, check=True)
    assert 'source depths (2, 2, 6, 2) -> scaled depths (4, 4, 12, 4)' in result.stdout
    total = next(line for line in result.stdout.splitlines() if line.startswith('total')).split()
    assert float(total[1]) > 1.8 * float(total[2]) and float(total[3]) < 0.1 * float(total[2])
