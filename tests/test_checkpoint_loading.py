"""Pretrained loading: every supported layout is recognised, converted and loaded strictly, or refused clearly."""
import re

import pytest
import torch
from mmengine.config import ConfigDict

from scalenet_mm.checkpoint import detect_format, load_pretrained
from scalenet_mm.models.scaling.adapters import LowRankAdapter

from conftest import SMALL_ARCH, build, perturb_
from released_layouts import LAYOUTS, random_timm_swin, write_released_file

mmdet_swin = pytest.importorskip('mmdet.models.backbones.swin')

WINDOW = 4
# stage 2 has 6 blocks, so a parity-keeping map can start elsewhere than block 0
ARCH = dict(embed_dims=16, depths=(2, 2, 6, 2), num_heads=(1, 2, 2, 4))


def timm_swin() -> torch.nn.Module:
    return random_timm_swin('tiny', seed=1, img_size=128, window_size=WINDOW, embed_dim=ARCH['embed_dims'],
                            depths=ARCH['depths'], num_heads=ARCH['num_heads'], num_classes=10)


def mm_swin_state() -> dict:
    reference = mmdet_swin.SwinTransformer(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                                           window_size=WINDOW, drop_path_rate=0.0)
    return dict(perturb_(reference).state_dict())


def mmdet_reference(path: str, depths=ARCH['depths']) -> torch.nn.Module:
    """mmdet's Swin loading Microsoft's file its own way (``convert_weights=True``)."""
    model = mmdet_swin.SwinTransformer(embed_dims=ARCH['embed_dims'], depths=depths, num_heads=ARCH['num_heads'],
                                       window_size=WINDOW, drop_path_rate=0.0, convert_weights=True,
                                       init_cfg=ConfigDict(type='Pretrained', checkpoint=path))
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def timm_model():
    return timm_swin()


# layer map requests, and the source block each position must run, written out (not computed by our code)
MAPS = {
    'cyclic': (dict(depth_scale=2), [[0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 2, 3, 4, 5] * 2, [0, 1, 0, 1]]),
    'interleave/by_position': (dict(depth_scale=2, layer_map='interleave', shift_policy='by_position'),
                               [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], [0, 0, 1, 1]]),
    'interleave/inherit_source': (dict(depth_scale=2, layer_map='interleave', shift_policy='inherit_source'),
                                  [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], [0, 0, 1, 1]]),
    'explicit permuted': (dict(layer_map=[[0, 1, 0, 1], [0, 1, 0, 1], [2, 3, 4, 5, 0, 1, 0, 1, 2, 3, 4, 5],
                                          [0, 1]]),
                          [[0, 1, 0, 1], [0, 1, 0, 1], [2, 3, 4, 5, 0, 1, 0, 1, 2, 3, 4, 5], [0, 1]]),
}


@pytest.mark.parametrize('layout', LAYOUTS)
@pytest.mark.parametrize('map_name', list(MAPS))
@pytest.mark.parametrize('unshare', [False, True])
def test_pretrained_source_runs_where_the_map_says(tmp_path, timm_model, layout, map_name, unshare):
    request, sources = MAPS[map_name]
    path = write_released_file(tmp_path / f'{layout}.pth', layout, timm_model)
    reference = mmdet_reference(write_released_file(tmp_path / 'microsoft.pth', 'microsoft', timm_model))
    model = build(arch=ARCH, window_size=WINDOW, unshare=unshare, **request,
                  init_cfg=dict(type='Pretrained', checkpoint=path)).eval()
    inherit = request.get('shift_policy') == 'inherit_source'
    for s, stage in enumerate(model.stages):
        assert sorted(set(stage.position_block)) == list(range(len(stage.blocks))) and stage.depth == len(sources[s])
        for p, g in enumerate(sources[s]):
            assert stage.shifted[p] == bool((g if inherit else p) % 2), (s, p)
            ran, source = stage.blocks[stage.position_block[p]], reference.stages[s].blocks[g]
            for (name, a), b in zip(ran.state_dict().items(), source.state_dict().values()):
                assert torch.equal(a, b), (s, p, g, name)
    assert all(torch.equal(m.up.weight, torch.zeros_like(m.up.weight))
               for m in model.modules() if isinstance(m, LowRankAdapter))
    if inherit:
        return  # no plain Swin runs SW-MSA at even positions
    # the grown model computes a plain deeper mmdet Swin whose block p is a copy of source block g(p)
    deeper = mmdet_reference(str(tmp_path / 'microsoft.pth'), depths=tuple(len(m) for m in sources))
    state = dict(reference.state_dict())
    for key in [k for k in deeper.state_dict() if re.match(r'stages\.\d+\.blocks\.', k)]:
        s, p, rest = re.match(r'stages\.(\d+)\.blocks\.(\d+)\.(.*)', key).groups()
        state[key] = reference.state_dict()[f'stages.{s}.blocks.{sources[int(s)][int(p)]}.{rest}']
    deeper.load_state_dict(state, strict=True)
    # output norms: ours load the file's (mmdet drops a classification file's final norm), checked here, then shared
    assert torch.equal(model.norm3.weight, timm_model.norm.weight)
    for i in range(4):
        getattr(deeper, f'norm{i}').load_state_dict(getattr(model, f'norm{i}').state_dict())
    deeper.eval()  # mmdet's train() returns None
    x = torch.randn(1, 3, 61, 75)
    with torch.no_grad():
        for a, b in zip(model(x), deeper(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=2e-5)


def test_adapters_start_at_zero_after_a_parent_init_cfg(tmp_path, timm_model):
    from scalenet_mm.registry import MODELS
    path = write_released_file(tmp_path / 'microsoft.pth', 'microsoft', timm_model)
    classifier = MODELS.build(dict(
        type='scalenet_mm.ImageClassifier', num_classes=10, in_channels=128,
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.02)],  # as mmpretrain's Swin classifiers
        backbone=dict(type='scalenet_mm.ScaleNetSwinTransformer', arch=ARCH, window_size=WINDOW, depth_scale=2,
                      out_indices=(3, ), init_cfg=dict(type='Pretrained', checkpoint=path))))
    classifier.init_weights()
    adapters = [m for m in classifier.backbone.modules() if isinstance(m, LowRankAdapter)]
    assert adapters and all(torch.count_nonzero(m.up.weight) == 0 for m in adapters)


def test_bias_table_of_another_window_is_resized(tmp_path, timm_model):
    path = write_released_file(tmp_path / 'mmdet_model.pth', 'mmdet_model', timm_model)
    model = build(arch=ARCH, adapter=None, window_size=6)
    report = load_pretrained(model, path)
    assert len(report.resized) == 12
    assert '(49, 1) -> (121, 1)' in report.resized['stages.0.blocks.0.attn.w_msa.relative_position_bias_table']
    assert 'resized' in report.summary()


def assert_unchanged(model, before):
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize('case, message', [
    ('unknown', 'unknown checkpoint format'),
    ('deeper_arch', 'has stage depths (2, 2, 4, 2) but the model source arch has (2, 2, 2, 2)'),
    ('wider_arch', 'shape mismatch'),
    ('nan', 'NaN/Inf'),
    ('other_map', 'checkpoint map [0, 1, 0, 1] vs model map [0, 0, 1, 1]'),
    ('missing_prefix', "no checkpoint key starts with prefix='student.'"),
    ('truncated', 'cannot be read'),
    ('two_final_norms', "both 'norm.*' and 'norm3.*' keys"),
])
def test_bad_checkpoints_are_refused_and_leave_the_model_untouched(tmp_path, case, message):
    path = str(tmp_path / f'{case}.pth')
    prefix = None
    model = build(depth_scale=2, window_size=WINDOW, adapter=None)
    if case == 'unknown':
        torch.save({'encoder.layer.0.weight': torch.zeros(3)}, path)
    elif case == 'deeper_arch':
        torch.save(build(arch=dict(SMALL_ARCH, depths=(2, 2, 4, 2)), window_size=WINDOW).state_dict(), path)
        torch.save({k: v for k, v in torch.load(path).items() if 'layer_map' not in k and 'adapters' not in k}, path)
    elif case == 'wider_arch':
        wide = mmdet_swin.SwinTransformer(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                                          window_size=WINDOW)
        torch.save(wide.state_dict(), path)
    elif case == 'nan':
        state = mm_swin_state()
        state['stages.1.blocks.0.ffn.layers.1.weight'][0, 0] = float('nan')
        torch.save(state, path)
    elif case == 'other_map':
        torch.save(build(depth_scale=2, window_size=WINDOW, adapter=None).state_dict(), path)
        model = build(depth_scale=2, window_size=WINDOW, adapter=None, layer_map='interleave',
                      shift_policy='by_position')
    elif case == 'missing_prefix':
        torch.save({'state_dict': {f'backbone.{k}': v for k, v in mm_swin_state().items()}}, path)
        prefix = 'student.'
    elif case == 'two_final_norms':
        state = mm_swin_state()
        torch.save(dict(state, **{'norm.weight': state['norm3.weight'], 'norm.bias': state['norm3.bias']}), path)
    elif case == 'truncated':
        torch.save(mm_swin_state(), path)
        with open(path, 'r+b') as handle:
            handle.truncate(2000)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as info:
        load_pretrained(model, path, prefix=prefix)
    assert message in str(info.value)
    assert path in str(info.value) or case in ('unknown', 'missing_prefix', 'two_final_norms')
    assert_unchanged(model, before)


def test_missing_file_names_the_config_key(tmp_path):
    with pytest.raises(FileNotFoundError, match='init_cfg.checkpoint'):
        load_pretrained(build(), str(tmp_path / 'nowhere.pth'))


def test_detect_format_names():
    assert detect_format({'layers.0.blocks.0.attn.qkv.weight': 0, 'layers.0.downsample.norm.weight': 0}) == 'official'
    assert detect_format({'layers.0.blocks.0.attn.qkv.weight': 0, 'layers.1.downsample.norm.weight': 0}) == 'timm'
    assert detect_format({'stages.0.blocks.0.attn.w_msa.qkv.weight': 0}) == 'mm'
    assert detect_format({'stages.0.blocks.0.attn.w_msa.qkv.weight': 0, 'stages.0.layer_map': 0}) == 'scalenet'


def test_convert_tool_writes_mm_keys_that_mmdet_swin_loads(tmp_path, timm_model):
    import subprocess
    import sys
    from pathlib import Path
    path = write_released_file(tmp_path / 'microsoft.pth', 'microsoft', timm_model)
    out = tmp_path / 'converted.pth'
    result = subprocess.run([sys.executable, 'tools/convert_checkpoint.py', path, str(out)],
                            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True)
    assert 'official layout' in result.stdout and 'head.weight' in result.stdout
    assert 'renamed norm.weight -> norm3.weight' in result.stdout
    state = {k[len('backbone.'):]: v for k, v in torch.load(out)['state_dict'].items()}
    reference = mmdet_swin.SwinTransformer(embed_dims=16, depths=ARCH['depths'], num_heads=ARCH['num_heads'],
                                           window_size=WINDOW, out_indices=(3,))
    missing, unexpected = reference.load_state_dict(state, strict=False)
    assert not unexpected and all('relative_position_index' in k for k in missing)


def test_prefix_without_its_dot_means_the_same_as_mmengines(tmp_path, timm_model):
    path = write_released_file(tmp_path / 'mmdet_model.pth', 'mmdet_model', timm_model)
    with_dot = load_pretrained(build(arch=ARCH, window_size=WINDOW), path, prefix='backbone.')
    without = load_pretrained(build(arch=ARCH, window_size=WINDOW), path, prefix='backbone')
    assert without.matched == with_dot.matched and "prefix 'backbone.'" in without.source


def test_safetensors_files_load_like_torch_files(tmp_path, timm_model):
    from safetensors.torch import save_file
    path = str(tmp_path / 'model.safetensors')
    save_file({k: v.contiguous() for k, v in timm_model.state_dict().items()}, path)
    pth = write_released_file(tmp_path / 'timm.pth', 'timm', timm_model)
    from_safetensors = build(arch=ARCH, window_size=WINDOW, adapter=None)
    report = load_pretrained(from_safetensors, path)
    from_pth = build(arch=ARCH, window_size=WINDOW, adapter=None)
    load_pretrained(from_pth, pth)
    assert report.format == 'timm'
    assert all(torch.equal(v, from_pth.state_dict()[k]) for k, v in from_safetensors.state_dict().items())
    (tmp_path / 'broken.safetensors').write_bytes(b'not a safetensors file')
    with pytest.raises(ValueError, match='cannot be read as safetensors'):
        load_pretrained(build(), str(tmp_path / 'broken.safetensors'))
    with pytest.raises(FileNotFoundError, match='init_cfg.checkpoint'):
        load_pretrained(build(), str(tmp_path / 'missing.safetensors'))
