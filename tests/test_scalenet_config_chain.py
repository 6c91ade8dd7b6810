"""``tools/scalenet_config.py --drop-path`` and the chain scalenet_config -> grow_checkpoint on a model other than
Mask R-CNN: mmdet's shipped RetinaNet Swin-T (drop-path 0.2) and mmseg's UperNet Swin-T (0.3)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from scalenet_mm.config_tools.backbone_config import build_model, load_config

from conftest import run_script

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
RETINANET = (Path(__import__('mmdet').__file__).parent / '.mim' / 'configs' / 'swin' /
             'retinanet_swin-t-p4-w7_fpn_1x_coco.py')
UPERNET = (Path(__import__('mmseg').__file__).parent / '.mim' / 'configs' / 'swin' /
           'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py')
RETINANET_OUT = 'retinanet_scalenet-swin-t-p4-w7-d2x_fpn_1x_coco.py'


def test_default_keeps_the_originals_drop_path_and_says_so(tmp_path):
    result = run_script('tools/scalenet_config.py', str(RETINANET), str(UPERNET), '--out-dir', str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (f'kept drop_path_rate=0.2 from {RETINANET}; our 2x recipes use 0.3 (--drop-path 0.3)'
            in result.stdout)
    assert f'kept drop_path_rate=0.3 from {UPERNET}; as our 2x recipes' in result.stdout
    assert Config.fromfile(str(tmp_path / RETINANET_OUT)).model.backbone.drop_path_rate == 0.2
    assert 'drop_path_rate' not in (tmp_path / RETINANET_OUT).read_text()  # inherited, not restated


def test_drop_path_option_is_written_and_read_back(tmp_path):
    result = run_script('tools/scalenet_config.py', str(RETINANET), '--out-dir', str(tmp_path), '--drop-path', '0.35')
    assert result.returncode == 0, result.stderr
    assert 'kept drop_path_rate' not in result.stdout
    cfg = Config.fromfile(str(tmp_path / RETINANET_OUT))
    assert cfg.model.backbone.drop_path_rate == 0.35
    assert cfg.model.backbone.type == 'scalenet_mm.ScaleNetSwinTransformer'


@pytest.mark.parametrize('rate', ['-0.1', '1', '1.5'])
def test_drop_path_outside_0_1_is_refused_before_writing(tmp_path, rate):
    result = run_script('tools/scalenet_config.py', str(RETINANET), '--out-dir', str(tmp_path / 'out'),
                        '--drop-path', rate)
    assert result.returncode == 2
    assert f'--drop-path {float(rate)} must be in [0, 1), e.g. --drop-path 0.3' in result.stderr
    assert not (tmp_path / 'out').exists()


def test_retinanet_chain_scalenet_config_then_grow_checkpoint_starts_at_the_trained_detector(tmp_path):
    """The documented chain (docs/mmdet_mmseg_integration.md) on mmdet's RetinaNet Swin-T: the written config
    with ``--drop-path 0.3`` grows a trained plain-Swin RetinaNet checkpoint; with closed gates the grown
    detector's outputs are the source's."""
    result = run_script('tools/scalenet_config.py', str(RETINANET), '--out-dir', str(tmp_path), '--drop-path', '0.3')
    assert result.returncode == 0, result.stderr
    config = tmp_path / RETINANET_OUT
    source_cfg = Config.fromfile(str(RETINANET))
    source_cfg.model.backbone.init_cfg = None  # a trained detector stands in: no ImageNet weights to fetch
    source = build_model(source_cfg)
    source.init_weights()
    checkpoint, grown_file = tmp_path / 'retinanet_swin-t.pth', tmp_path / 'grown.pth'
    torch.save({'state_dict': source.state_dict(), 'meta': {}}, checkpoint)
    result = run_script('tools/grow_checkpoint.py', str(checkpoint), str(config), str(grown_file), '--cfg-options',
                        'model.backbone.gate_inserted=True')
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'--cfg-options load_from={grown_file} model.backbone.init_cfg=None' in result.stdout

    grown = build_model(load_config(str(config), {'model.backbone.gate_inserted': True,
                                                  'model.backbone.init_cfg': None}))
    grown.load_state_dict(torch.load(grown_file)['state_dict'])
    assert grown.backbone.scaled_depths == (4, 4, 12, 4)
    assert grown.backbone.stages[-1].drop_path_rates[-1] == pytest.approx(0.3)  # the last position's rate
    source.eval()
    grown.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for ours, theirs in zip(grown._forward(x), source._forward(x)):
            for a, b in zip(ours, theirs):
                torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
