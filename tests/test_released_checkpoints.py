"""Real Swin-T checkpoint layouts at the input sizes the tasks use, against the implementation each file is for.

Files are built with the converters that ship inside timm and mmseg (see ``released_layouts.py``); each
reference loads the file its own way (timm's ``checkpoint_filter_fn``, mmdet's ``SwinTransformer(
convert_weights=True)``, mmseg's ``SwinTransformer``), and our backbone or classifier loads the same file.
mmdet and mmseg load non-strictly and drop the final ``norm`` of classification files (their ``norm3`` stays
at the identity); ours maps it to ``norm3`` and says so, so the last output is compared with that affine.
"""
import re

import pytest
import torch
from mmengine.config import ConfigDict

from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.models.backbones.scalenet_swin import ScaleNetSwinTransformer
from scalenet_mm.registry import MODELS

from released_layouts import microsoft_state, random_timm_swin, released_file_content, write_released_file

timm = pytest.importorskip('timm')
mmdet_swin = pytest.importorskip('mmdet.models.backbones.swin')
mmseg_swin = pytest.importorskip('mmseg.models.backbones.swin')

SWIN_T = dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7, drop_path_rate=0.0)


@pytest.fixture(scope='module')
def swin_t():
    return random_timm_swin('tiny')


def ours(path: str, **kwargs) -> ScaleNetSwinTransformer:
    kwargs.setdefault('adapter', None)
    model = ScaleNetSwinTransformer(arch='tiny', drop_path_rate=0.0,
                                    init_cfg=dict(type='Pretrained', checkpoint=path), **kwargs)
    model.init_weights()
    return model.eval()


def ours_with_report(path: str) -> tuple[ScaleNetSwinTransformer, object]:
    """Our Swin-T loaded by the loader itself, to read its report as well."""
    model = ScaleNetSwinTransformer(arch='tiny', drop_path_rate=0.0, adapter=None)
    report = load_pretrained(model, path)
    return model.eval(), report


def assert_equal_but_final_norm(got, expected, final_norm):
    """Stages 0-2 equal; stage 3 equals the reference's identity-affine norm3 times the file's final norm."""
    weight, bias = final_norm
    for i, (g, e) in enumerate(zip(got, expected)):
        if i == 3:
            e = e * weight[:, None, None] + bias[:, None, None]
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


def test_microsoft_layout_is_what_timm_reads_back_exactly(swin_t):
    from timm.models.swin_transformer import checkpoint_filter_fn
    state = microsoft_state(swin_t)
    assert 'layers.0.downsample.reduction.weight' in state and 'head.weight' in state and 'norm.weight' in state
    assert 'layers.0.blocks.1.attn_mask' in state and 'layers.3.blocks.1.attn_mask' not in state  # 7x7: no shift
    fresh = timm.create_model('swin_tiny_patch4_window7_224', pretrained=False)
    fresh.load_state_dict(checkpoint_filter_fn(dict(state), fresh), strict=True)
    for key, value in swin_t.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


@pytest.mark.parametrize('layout, head_prefix', [('microsoft', 'head.'), ('timm', 'head.fc.')])
def test_classifier_at_224_equals_timm_logits(tmp_path, swin_t, layout, head_prefix):
    path = write_released_file(tmp_path / f'{layout}.pth', layout, swin_t)
    classifier = MODELS.build(dict(
        type='scalenet_mm.ImageClassifier', num_classes=1000, in_channels=768,
        backbone=dict(type='scalenet_mm.ScaleNetSwinTransformer', arch='tiny', adapter=None, drop_path_rate=0.0,
                      out_indices=(3, ), pad_small_map=False, init_cfg=dict(type='Pretrained', checkpoint=path)),
        head_init=dict(checkpoint=path, prefix=head_prefix)))
    classifier.init_weights()
    classifier.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expected = swin_t(x)
        got = classifier(x)
        padded = ours(path, out_indices=(3, ))(x)[0]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    # mmdet's convention (pad and shift the 7x7 last stage) computes another function from the same weights
    official = classifier.backbone(x)[0]
    assert (padded - official).abs().max() > 1e-2


def test_detection_batch_equals_mmdet_loading_microsofts_file(tmp_path, swin_t):
    path = write_released_file(tmp_path / 'swin_tiny_patch4_window7_224.pth', 'microsoft', swin_t)
    reference = mmdet_swin.SwinTransformer(**SWIN_T, convert_weights=True,
                                           init_cfg=ConfigDict(type='Pretrained', checkpoint=path))
    reference.init_weights()
    reference.eval()
    assert torch.equal(reference.norm3.weight, torch.ones(768))  # mmdet dropped the final norm
    model = ours(path)
    x = torch.randn(2, 3, 800, 1216)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert [tuple(g.shape) for g in got] == [(2, 96 * 2 ** i, 200 // 2 ** i, 304 // 2 ** i) for i in range(4)]
    assert_equal_but_final_norm(got, expected, (swin_t.norm.weight, swin_t.norm.bias))


def test_segmentation_size_equals_mmseg_loading_its_released_file(tmp_path, swin_t):
    path = write_released_file(tmp_path / 'swin_tiny_patch4_window7_224_20220317-1cdeb081.pth', 'mmseg', swin_t)
    assert {'norm.weight', 'norm.bias'} <= set(torch.load(path)) and 'norm3.weight' not in torch.load(path)
    reference = mmseg_swin.SwinTransformer(pretrain_img_size=224, **SWIN_T,
                                           init_cfg=ConfigDict(type='Pretrained', checkpoint=path))
    reference.init_weights()
    reference.eval()
    model, report = ours_with_report(path)
    assert report.format == 'mm' and report.renamed == {'norm.weight': 'norm3.weight', 'norm.bias': 'norm3.bias'}
    assert 'norm.weight -> norm3.weight' in report.summary()
    assert all(why == 'buffer recomputed by the model' for why in report.skipped.values())
    assert sum(k.endswith('attn_mask') for k in report.skipped) == 5  # shifted blocks of stages 0-2
    x = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert_equal_but_final_norm(got, expected, (swin_t.norm.weight, swin_t.norm.bias))


@pytest.mark.parametrize('layout, size', [('mmpretrain', (2, 3, 224, 224)), ('mmdet_model', (1, 3, 800, 1216)),
                                          ('mmseg_model', (1, 3, 512, 512))])
def test_trained_model_files_give_mmdets_features(tmp_path, swin_t, layout, size):
    path = write_released_file(tmp_path / f'{layout}.pth', layout, swin_t)
    reference = mmdet_swin.SwinTransformer(**SWIN_T, init_cfg=ConfigDict(type='Pretrained', checkpoint=path))
    reference.init_weights()
    reference.eval()
    model, report = ours_with_report(path)
    expected_source = {'mmpretrain': 'mmpretrain', 'mmdet_model': 'mmdet', 'mmseg_model': 'mmseg'}[layout]
    assert report.source.startswith(expected_source) and report.format == 'mm'
    initialised = [k for k in report.initialised if not k.endswith('layer_map')]
    if layout == 'mmpretrain':  # a classifier has only the last output norm: the others stay at the identity
        assert initialised == [f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')]
    else:
        assert not initialised
    x = torch.randn(*size)  # the input size of the task that writes such files
    with torch.no_grad():
        for g, e in zip(model(x), reference(x)):
            torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)


def test_every_layout_holds_the_same_backbone(swin_t):
    from scalenet_mm.checkpoint.convert import to_mm_backbone
    from scalenet_mm.checkpoint.load import extract_state_dict, select_backbone
    converted = {}
    for layout in ('microsoft', 'mmseg', 'timm', 'mmpretrain', 'mmdet_model', 'mmseg_model'):
        _, state = select_backbone(extract_state_dict(released_file_content(layout, swin_t)), None)
        converted[layout] = to_mm_backbone(state).state

    def weights(state):
        return {k for k in state if not k.endswith(('attn_mask', 'relative_position_index'))
                and not re.match(r'norm[012]\.', k)}

    mmseg = converted['mmseg']
    for layout, state in converted.items():
        assert weights(state) == weights(mmseg), layout
        for key in weights(state):
            assert torch.equal(state[key], mmseg[key]), (layout, key)
