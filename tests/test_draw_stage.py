"""tools/analysis/draw_stage.py: the drawn positions are the backbone's layer map (Swin stage or ViT layers),
with gates and adapters where the config puts them; a stage out of range is refused."""
import runpy
import sys

import pytest
from PIL import Image

from scalenet_mm.config_tools.backbone_config import build_backbone, load_config

from conftest import DETECTION_DEMO, REPO

DEIT_UPERNET = REPO / 'configs' / 'deit' / 'upernet_scalenet-deit-s-d2x_in1k-pre_8xb2-80k_ade20k-512x512.py'


def draw(config, tmp_path, *args) -> None:
    """Run the tool in-process: ``python tools/analysis/draw_stage.py CONFIG --out TMP/stage.png ARGS``."""
    argv = sys.argv
    sys.argv = ['draw_stage.py', str(config), '--out', str(tmp_path / 'stage.png'), *args]
    try:
        runpy.run_path(str(REPO / 'tools' / 'analysis' / 'draw_stage.py'), run_name='__main__')
    finally:
        sys.argv = argv


def test_swin_stage_layer_maps_and_gates(tmp_path, capsys):
    for layer_map, sources in (('cyclic', [0, 1, 0, 1]), ('interleave', [0, 0, 1, 1])):
        draw(DETECTION_DEMO, tmp_path, '--stage', '3', '--cfg-options', 'model.backbone.gate_inserted=True',
             f'model.backbone.layer_map={layer_map}', 'model.backbone.shift_policy=inherit_source')
        assert f'4 positions running source blocks {sources}' in capsys.readouterr().out
        assert Image.open(tmp_path / 'stage.png').size[0] > 400


def test_positions_carry_their_gates_adapters_and_windows():
    tool = runpy.run_path(str(REPO / 'tools' / 'analysis' / 'draw_stage.py'))  # its functions, main not run
    for gated in (True, False):
        backbone = build_backbone(load_config(str(DETECTION_DEMO), {'model.backbone.gate_inserted': gated}))
        infos = tool['describe_positions'](tool['select_positions'](backbone, 3), backbone)
        assert [info.source for info in infos] == [0, 1, 0, 1]
        assert [info.inserted for info in infos] == [False, False, True, True]
        assert [info.gated for info in infos] == ([False, False, True, True] if gated else [False] * 4)
        assert [info.window for info in infos] == ['W-MSA', 'SW-MSA', 'W-MSA', 'SW-MSA']
        assert {info.adapter for info in infos} == {'parallel r=8\nfc1+fc2'}
    backbone = build_backbone(load_config(str(DETECTION_DEMO), {'model.backbone.adapter': None}))
    assert {info.adapter for info in tool['describe_positions'](tool['select_positions'](backbone, 0), backbone)} \
        == {None}


def test_vit_layers(tmp_path, capsys):
    draw(DEIT_UPERNET, tmp_path)
    assert f'24 positions running source blocks {list(range(12)) * 2}' in capsys.readouterr().out


def test_stage_out_of_range_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r'--stage 4: the swin backbone has stage\(s\) 0\.\.3'):
        draw(DETECTION_DEMO, tmp_path, '--stage', '4')
    assert not (tmp_path / 'stage.png').exists()
