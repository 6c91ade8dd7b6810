"""Pretrained loading: every supported layout is recognised, converted and loaded strictly, or refused clearly."""
import re

import pytest
import torch
import torch.nn.functional as F
from conftest import SMALL_ARCH, build, perturb_

from scalenet_mm.checkpoint import detect_format, load_pretrained
from scalenet_mm.checkpoint.convert import timm_to_official

timm = pytest.importorskip('timm')
mmdet_swin = pytest.importorskip('mmdet.models.backbones.swin')

WINDOW = 4


def timm_swin() -> torch.nn.Module:
    model = timm.create_model('swin_tiny_patch4_window7_224', pretrained=False, img_size=256, window_size=WINDOW,
                              embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), num_classes=10)
    return perturb_(model).eval()


def mm_swin_state() -> dict:
    reference = mmdet_swin.SwinTransformer(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                                           window_size=WINDOW, drop_path_rate=0.0)
    return dict(perturb_(reference).state_dict())


def official_state(timm_model) -> dict:
    """Microsoft's layout: timm's old layout plus the buffers the official code saves."""
    state = timm_to_official(timm_model.state_dict())
    for key in [k for k in state if k.endswith('relative_position_bias_table')]:
        state[key.replace('relative_position_bias_table', 'relative_position_index')] = torch.zeros(
            WINDOW ** 2, WINDOW ** 2, dtype=torch.long)
    state['layers.0.blocks.1.attn_mask'] = torch.zeros(64, WINDOW ** 2, WINDOW ** 2)
    return {'model': state}


def checkpoints(tmp_path, timm_model) -> dict[str, str]:
    """One file per supported layout, all holding the same backbone weights."""
    mm = mm_swin_state()
    files = {
        'timm': {k: v for k, v in timm_model.state_dict().items()},
        'official': official_state(timm_model),
        'mmpretrain': {'state_dict': {**{f'backbone.{k}': v for k, v in mm.items() if not re.match(r'norm[012]', k)},
                                      'head.fc.weight': torch.randn(10, 128), 'head.fc.bias': torch.randn(10)}},
        'mmdet': {'state_dict': {**{f'backbone.{k}': v for k, v in mm.items()},
                                 'neck.lateral_convs.0.conv.weight': torch.randn(8, 16, 1, 1)},
                  'meta': {'epoch': 12}},
        'mmseg': {'state_dict': {**{f'backbone.{k}': v for k, v in mm.items()},
                                 'decode_head.conv_seg.weight': torch.randn(150, 8, 1, 1)}},
    }
    paths = {}
    for name, content in files.items():
        paths[name] = str(tmp_path / f'{name}.pth')
        torch.save(content, paths[name])
    return paths


@pytest.fixture(scope='module')
def timm_model():
    torch.manual_seed(1)
    return timm_swin()


@pytest.mark.parametrize('layout', ['timm', 'official'])
def test_timm_weights_converted_give_timm_features(tmp_path, timm_model, layout):
    path = checkpoints(tmp_path, timm_model)[layout]
    model = build(adapter=None, window_size=WINDOW).eval()
    report = load_pretrained(model, path)
    assert report.format == layout
    assert 'head.weight' in report.skipped or 'head.fc.weight' in report.skipped
    x = torch.randn(2, 3, 256, 256)
    with torch.no_grad():
        ours = model(x)
        intermediates = timm_model.forward_intermediates(x, intermediates_only=True, norm=False)
        final = timm_model.forward_features(x)
    for i, (got, raw) in enumerate(zip(ours, intermediates)):
        norm = getattr(model, f'norm{i}')
        expected = F.layer_norm(raw.permute(0, 2, 3, 1), (raw.shape[1],), norm.weight, norm.bias)
        torch.testing.assert_close(got, expected.permute(0, 3, 1, 2), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ours[3], final.permute(0, 3, 1, 2), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('layout', ['timm', 'official', 'mmpretrain', 'mmdet', 'mmseg'])
@pytest.mark.parametrize('unshare', [False, True])
def test_every_layout_fills_source_blocks_before_scaling(tmp_path, timm_model, layout, unshare):
    paths = checkpoints(tmp_path, timm_model)
    reference = build(adapter=None, window_size=WINDOW)
    load_pretrained(reference, paths[layout])
    model = build(depth_scale=2, window_size=WINDOW, unshare=unshare, share_norms=unshare)
    report = load_pretrained(model, paths[layout])
    if layout.startswith('mm'):
        assert layout in report.source
    source_state = reference.state_dict()
    for s, stage in enumerate(model.stages):
        for p in range(stage.depth):
            block = stage.blocks[stage.block_of_position[p]]
            source = reference.stages[s].blocks[stage.init_block_of_position(p)]
            for (name, a), b in zip(block.state_dict().items(), source.state_dict().values()):
                assert torch.equal(a, b), (layout, s, p, name)
    assert torch.equal(model.patch_embed.projection.weight, source_state['patch_embed.projection.weight'])
    assert all(re.search(r'\.(adapters|position_norms)\.', k) or 'layer_map' in k or re.match(r'norm[012]\.', k) for k in report.initialised)


def test_mmdet_checkpoint_through_init_cfg_reproduces_mmdet(tmp_path, timm_model):
    path = checkpoints(tmp_path, timm_model)['mmdet']
    reference = mmdet_swin.SwinTransformer(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                                           window_size=WINDOW, drop_path_rate=0.0)
    reference.load_state_dict({k[len('backbone.'):]: v for k, v in torch.load(path)['state_dict'].items()
                               if k.startswith('backbone.')})
    reference.eval()
    model = build(adapter=None, window_size=WINDOW,
                  init_cfg=dict(type='Pretrained', checkpoint=path, prefix='backbone.')).eval()
    x = torch.randn(1, 3, 97, 131)
    with torch.no_grad():
        for a, b in zip(model(x), reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=2e-5)


def test_bias_table_of_another_window_is_resized(tmp_path, timm_model):
    path = checkpoints(tmp_path, timm_model)['mmdet']
    model = build(adapter=None, window_size=6)
    report = load_pretrained(model, path)
    assert len(report.resized) == 8
    assert '(49, 1) -> (121, 1)' in report.resized['stages.0.blocks.0.attn.w_msa.relative_position_bias_table']
    assert 'resized' in report.summary()


def test_scalenet_checkpoint_round_trip_keeps_sharing_and_adapters(tmp_path):
    trained = perturb_(build(depth_scale=2, adapter=dict(targets=('fc1', 'proj'), dim=4)))
    path = str(tmp_path / 'scalenet.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in trained.state_dict().items()}}, path)
    fresh = build(depth_scale=2, adapter=dict(targets=('fc1', 'proj'), dim=4))
    report = load_pretrained(fresh, path, prefix='backbone.')
    assert report.format == 'scalenet' and not report.initialised
    x = torch.randn(1, 3, 45, 53)
    with torch.no_grad():
        for a, b in zip(trained.eval()(x), fresh.eval()(x)):
            assert torch.equal(a, b)


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
    elif case == 'truncated':
        torch.save(mm_swin_state(), path)
        with open(path, 'r+b') as handle:
            handle.truncate(2000)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as info:
        load_pretrained(model, path, prefix=prefix)
    assert message in str(info.value)
    assert path in str(info.value) or case in ('unknown', 'missing_prefix')
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
    paths = checkpoints(tmp_path, timm_model)
    out = tmp_path / 'converted.pth'
    result = subprocess.run([sys.executable, 'tools/convert_checkpoint.py', paths['official'], str(out)],
                            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True)
    assert 'official layout' in result.stdout and 'head.weight' in result.stdout
    state = {k[len('backbone.'):]: v for k, v in torch.load(out)['state_dict'].items()}
    reference = mmdet_swin.SwinTransformer(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                                           window_size=WINDOW, out_indices=(3,))
    missing, unexpected = reference.load_state_dict(state, strict=False)
    assert not unexpected and all('relative_position_index' in k for k in missing)
