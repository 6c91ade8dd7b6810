"""tools/analysis/estimate_resources.py: the activations autograd keeps, counted exactly; the memory calibration
checked against a published figure it was not fitted to; the schedule's iterations; bad requests refused."""
import json
import runpy

import pytest
import torch
import torch.nn as nn

from scalenet_mm.analysis.activation_memory import saved_activation_bytes

from conftest import REPO, run_script

TOOL = REPO / 'tools/analysis/estimate_resources.py'
UPERNET_SWIN_S = REPO / 'configs/scalenet/upernet_swin-s_8xb2-160k_ade20k-512x512.py'
MASK_RCNN_SWIN_T = REPO / 'configs/scalenet/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'
SWIN_T_IN1K = REPO / 'configs/scalenet/swin-t_8xb128-300e_in1k.py'


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(str(TOOL))


def test_saved_activations_are_counted_once_per_storage_without_weights():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = torch.randn(2, 4)
    # Linear keeps its input for the weight gradient (2x4 floats), ReLU its output (2x3); the weight is excluded
    assert saved_activation_bytes(lambda: model(x), model) == (8 + 6) * 4
    y = torch.randn(5, requires_grad=True)
    # x * x keeps x twice: one storage; a view keeps its base's storage
    assert saved_activation_bytes(lambda: y * y, nn.Module()) == 5 * 4
    assert saved_activation_bytes(lambda: y[1:] * y[:-1], nn.Module()) == 5 * 4
    with torch.no_grad():
        assert saved_activation_bytes(lambda: model(x), model) == 0


def test_the_schedules_iterations_follow_the_config_and_the_dataset(tool):
    load_config = tool['load_config']
    detection = load_config(str(MASK_RCNN_SWIN_T))
    # 12 epochs of COCO train2017's 117,266 annotated images at 8x2: mmdet's logs count 7,330 per epoch
    assert tool['schedule_iterations'](detection, 'detection', 8) == 12 * 7330
    assert tool['schedule_iterations'](detection, 'detection', 8, epoch_images=160) == 12 * 10
    assert tool['schedule_iterations'](load_config(str(UPERNET_SWIN_S)), 'segmentation', 8) == 160_000
    # 300 ImageNet epochs at 8x128: 1,252 iterations each
    assert tool['schedule_iterations'](load_config(str(SWIN_T_IN1K)), 'classification', 8) == 300 * 1252


def test_memory_calibrated_on_swin_t_predicts_the_published_swin_s_figure(tmp_path):
    """The segmentation factor is fitted on mmseg's UperNet Swin-T (5.02 GB published); the tool must then
    predict mmseg's UperNet Swin-S (6.17 GB in mmseg's metafile, V100) within 10 %."""
    out = tmp_path / 'resources.json'
    result = run_script('tools/analysis/estimate_resources.py', UPERNET_SWIN_S, '--out-json', out)
    assert result.returncode == 0, result.stderr[-3000:]
    estimate = json.loads(out.read_text())
    (row,) = estimate['rows']
    assert estimate['calibration']['segmentation']['published_gb'] == 5.02
    assert row['calibrated'] and abs(row['memory_gb'] / 6.17 - 1) < 0.10, row
    assert row['input_hw'] == [512, 512] and row['batch_size'] == 2 and row['iterations'] == 160_000
    # time: 3 forward passes of 2 images at 20 TFLOP/s, FLOPs counted as multiply-adds (x2)
    assert row['seconds_per_iter'] == pytest.approx(3 * 2 * row['gflops_per_image'] * 1e9 * 2 / 20e12)
    assert row['gpu_hours'] == pytest.approx(160_000 * 8 * row['seconds_per_iter'] / 3600)
    assert '`upernet_swin-s_8xb2-160k_ade20k-512x512.py`' in result.stdout and '(est.)' in result.stdout


@pytest.mark.parametrize('args, message', [
    (('--gpus', '0'), '--gpus 0'),
    (('--sustained-tflops', '-1'), '--sustained-tflops -1.0'),
    (('--epoch-images', '0'), '--epoch-images 0'),
])
def test_bad_numbers_are_refused(args, message):
    result = run_script('tools/analysis/estimate_resources.py', UPERNET_SWIN_S, *args)
    assert result.returncode == 2 and message in result.stderr


def test_a_page_without_markers_is_refused_before_any_measurement(tmp_path):
    page = tmp_path / 'zoo.md'
    page.write_text('# no markers\n')
    result = run_script('tools/analysis/estimate_resources.py', UPERNET_SWIN_S, '--update-page', page)
    assert result.returncode == 1 and 'resources-table:begin' in result.stderr
    assert page.read_text() == '# no markers\n'
