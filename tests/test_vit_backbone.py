"""ScaleNetVisionTransformer against independent references: timm's DeiT (logits) and mmseg's
VisionTransformer loaded from the same released-layout files, an untied deeper mmseg ViT built from copies,
and the exported plain ViT loaded strictly by mmseg."""

import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones import VisionTransformer

import scalenet_mm  # noqa: F401
from scalenet_mm import ScaleNetVisionTransformer
from scalenet_mm.analysis.param_count import count_parameters
from scalenet_mm.checkpoint import export_plain, load_pretrained
from scalenet_mm.models.classifiers import ImageClassifier
from scalenet_mm.models.scaling.adapters import LowRankAdapter

from released_vit_layouts import VIT_LAYOUTS, random_timm_deit, released_vit_file

DEIT_TINY = dict(arch='deit-tiny', patch_bias=True, norm_cfg=dict(type='LN', eps=1e-6))
MMSEG_TINY = dict(embed_dims=192, num_layers=12, num_heads=3, patch_bias=True, norm_cfg=dict(type='LN', eps=1e-6))


@pytest.fixture(scope='module')
def deit():
    return random_timm_deit('tiny')


@pytest.mark.parametrize('layout', VIT_LAYOUTS)
def test_scale_1_logits_equal_timm_deit_at_224(tmp_path, deit, layout):
    path = released_vit_file(tmp_path / f'{layout}.pth', layout, deit)
    ours = ScaleNetVisionTransformer(**DEIT_TINY, final_norm=True, output_cls_token=True, adapter=None).eval()
    report = load_pretrained(ours, path)
    assert report.format == {'deit': 'timm', 'timm': 'timm', 'mmseg': 'mm', 'mmpretrain': 'mmpretrain'}[layout]
    assert report.initialised == ['layer_map'] and not report.resized
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        cls = ours(x)[-1][1]
        logits = F.linear(cls, deit.head.weight, deit.head.bias)
        torch.testing.assert_close(logits, deit(x), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(cls, deit.forward_head(deit.forward_features(x), pre_logits=True))


def test_classifier_with_class_token_head_equals_timm_deit(tmp_path, deit):
    path = released_vit_file(tmp_path / 'deit.pth', 'deit', deit)
    classifier = ImageClassifier(
        backbone=dict(type='scalenet_mm.ScaleNetVisionTransformer', **DEIT_TINY, final_norm=True,
                      output_cls_token=True, adapter=None, init_cfg=dict(type='Pretrained', checkpoint=path)),
        num_classes=1000, in_channels=192, pool='cls_token', head_init=dict(checkpoint=path, prefix='head.'))
    classifier.init_weights()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(classifier.eval()(x), deit(x), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match='output_cls_token=True'):
        ImageClassifier(backbone=dict(type='scalenet_mm.ScaleNetVisionTransformer', **DEIT_TINY),
                        num_classes=10, in_channels=192, pool='cls_token')


@pytest.mark.parametrize('final_norm', [True, False])
def test_scale_1_equals_mmseg_vit_at_512_from_the_converted_file(tmp_path, deit, final_norm):
    """mmseg's UperNet-DeiT recipe sizes: img_size 512 (pos_embed resized at load), out_indices (2, 5, 8, 11)."""
    path = released_vit_file(tmp_path / 'mmseg.pth', 'mmseg', deit)
    kwargs = dict(img_size=512, out_indices=(2, 5, 8, 11), final_norm=final_norm)
    reference = VisionTransformer(**MMSEG_TINY, **kwargs, init_cfg=dict(type='Pretrained', checkpoint=path))
    reference.init_weights()
    ours = ScaleNetVisionTransformer(**DEIT_TINY, **kwargs, adapter=None,
                                     init_cfg=dict(type='Pretrained', checkpoint=path))
    ours.init_weights()
    assert torch.equal(ours.pos_embed, reference.pos_embed)
    x = torch.randn(1, 3, 512, 512)
    reference.eval()  # mmseg's train() returns None
    with torch.no_grad():
        for a, b in zip(ours.eval()(x), reference(x)):
            assert a.shape == (1, 192, 32, 32)
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
        # another input size: both interpolate the 32x32 position grid (bicubic)
        y = torch.randn(1, 3, 384, 640)
        torch.testing.assert_close(ours(y)[-1], reference(y)[-1], rtol=1e-4, atol=1e-4)


def test_mmseg_default_patch_bias_refuses_a_deit_file_instead_of_dropping_its_bias(tmp_path, deit):
    path = released_vit_file(tmp_path / 'deit.pth', 'deit', deit)
    model = ScaleNetVisionTransformer(arch='deit-tiny', adapter=None)
    with pytest.raises(ValueError, match=r'patch_embed\.projection\.bias'):
        load_pretrained(model, path)
    report = load_pretrained(ScaleNetVisionTransformer(**DEIT_TINY, adapter=None), path)
    assert report.skipped['ln1.weight'].startswith('final norm, unused with final_norm=False')
    assert 'head.weight' in report.skipped


def test_distilled_deit_drops_the_distillation_token_and_says_so(tmp_path):
    distilled = random_timm_deit('tiny', distilled=True)
    path = released_vit_file(tmp_path / 'deit_distilled.pth', 'deit', distilled)
    model = ScaleNetVisionTransformer(**DEIT_TINY, final_norm=True, adapter=None)
    report = load_pretrained(model, path)
    assert {'dist_token', 'pos_embed[:, 1]', 'head_dist.weight'} <= set(report.skipped)
    pos = distilled.pos_embed.detach()
    assert torch.equal(model.pos_embed, torch.cat([pos[:, :1], pos[:, 2:]], dim=1))
    assert 'distillation token' in report.summary()


def test_swin_file_into_vit_is_refused_by_architecture(tmp_path):
    from released_layouts import random_timm_swin, write_released_file
    path = write_released_file(tmp_path / 'swin.pth', 'microsoft', random_timm_swin('tiny'))
    with pytest.raises(ValueError, match='holds a swin backbone, the model is a vit'):
        load_pretrained(ScaleNetVisionTransformer(**DEIT_TINY), path)


def untied_mmseg_vit(ours: ScaleNetVisionTransformer, **kwargs) -> VisionTransformer:
    """An mmseg ViT with one layer per position, each a copy of the layer the position runs."""
    depth = ours.depth
    reference = VisionTransformer(**dict(MMSEG_TINY, num_layers=depth), **kwargs)
    state = {k: v for k, v in ours.state_dict().items() if not k.startswith(('layers.', 'layer_map'))}
    for p in range(depth):
        block = ours.position_block[p]
        for key, value in ours.state_dict().items():
            if key.startswith(f'layers.{block}.'):
                state[f'layers.{p}.' + key[len(f'layers.{block}.'):]] = value
    reference.load_state_dict(state, strict=True)
    reference.eval()  # mmseg's train() returns None
    return reference


@pytest.mark.parametrize('layer_map', ['cyclic', 'interleave'])
def test_2x_shared_equals_an_untied_mmseg_vit_of_copies(deit, tmp_path, layer_map):
    path = released_vit_file(tmp_path / 'deit.pth', 'deit', deit)
    ours = ScaleNetVisionTransformer(**DEIT_TINY, depth_scale=2, layer_map=layer_map, adapter=None,
                                     out_indices=(5, 11, 17, 23), final_norm=True)
    load_pretrained(ours, path)
    expected_map = [p % 12 for p in range(24)] if layer_map == 'cyclic' else [p // 2 for p in range(24)]
    assert ours.layer_map.tolist() == expected_map
    reference = untied_mmseg_vit(ours, out_indices=(5, 11, 17, 23), final_norm=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        for a, b in zip(ours.eval()(x), reference(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_gradient_of_a_shared_tensor_is_the_sum_over_its_untied_copies(deit, tmp_path):
    path = released_vit_file(tmp_path / 'deit.pth', 'deit', deit)
    ours = ScaleNetVisionTransformer(arch=dict(embed_dims=192, num_layers=3, num_heads=3), patch_bias=True,
                                     norm_cfg=dict(type='LN', eps=1e-6), depth_scale=2, adapter=None,
                                     out_indices=(1, 5))
    state = {k: v for k, v in torch.load(path)['model'].items()
             if not k.startswith('blocks.') or int(k.split('.')[1]) < 3}
    torch.save({'model': state}, tmp_path / 'deit3.pth')
    load_pretrained(ours, str(tmp_path / 'deit3.pth'))
    reference = VisionTransformer(**dict(MMSEG_TINY, num_layers=6), out_indices=(1, 5))
    untied_state = untied_mmseg_vit(ours, out_indices=(1, 5)).state_dict()
    reference.load_state_dict(untied_state)
    x = torch.randn(2, 3, 64, 64)
    sum(o.square().mean() for o in ours.train()(x)).backward()
    reference.train()
    sum(o.square().mean() for o in reference(x)).backward()
    for b in range(3):
        copies = [p for p in range(6) if ours.position_block[p] == b]
        got = ours.layers[b].attn.attn.in_proj_weight.grad
        want = sum(reference.layers[p].attn.attn.in_proj_weight.grad for p in copies)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
        got = ours.layers[b].ffn.layers[1].weight.grad
        want = sum(reference.layers[p].ffn.layers[1].weight.grad for p in copies)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('share_norms', [True, False])
def test_export_with_merged_lora_adapters_loads_strictly_into_mmseg_and_computes_the_same(share_norms):
    ours = ScaleNetVisionTransformer(**DEIT_TINY, depth_scale=2, share_norms=share_norms, final_norm=True,
                                     adapter=dict(type='lora', targets=('qkv', 'proj', 'fc1', 'fc2'), dim=4),
                                     out_indices=(11, 23))
    ours.init_weights()
    with torch.no_grad():
        for module in ours.modules():
            if isinstance(module, LowRankAdapter):
                module.up.weight.normal_(std=0.02)
        if not share_norms:
            for norms in ours.position_norms:
                for norm in norms.values():
                    norm.weight.add_(0.1)
    plain = VisionTransformer(**dict(MMSEG_TINY, num_layers=24), final_norm=True, out_indices=(11, 23))
    plain.load_state_dict(export_plain(ours), strict=True)
    x = torch.randn(1, 3, 224, 224)
    plain.eval()
    with torch.no_grad():
        for a, b in zip(ours.eval()(x), plain(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match='parallel adapter'):
        export_plain(ScaleNetVisionTransformer(**DEIT_TINY, depth_scale=2))


def test_parameter_counts():
    # the checkpoint round trip (and a file of another layer map refused) is checked for both backbones in
    # test_backbone_contract.py
    model = ScaleNetVisionTransformer(arch='deit-small', depth_scale=2, patch_bias=True)
    counts = count_parameters(model)['total']
    layer = sum(p.numel() for p in model.layers[0].parameters())
    adapters = sum(p.numel() for p in model.adapters.parameters())
    assert counts.total - counts.unique == 12 * layer  # every layer runs twice
    assert adapters == 24 * 2 * 16 * (384 + 1536)


def test_trainable_policies_with_cp_and_layer_depths():
    kwargs = dict(arch=dict(embed_dims=32, num_layers=3, num_heads=2), depth_scale=2, drop_path_rate=0.2)
    for trainable, expect in (('all', None), ('adapters_norms', ('adapters.', 'ln', 'position_norms')),
                              ('adapters', ('adapters.',))):
        model = ScaleNetVisionTransformer(trainable=trainable, **kwargs)
        trained = {n for n, p in model.named_parameters() if p.requires_grad}
        if expect is None:
            assert trained == {n for n, _ in model.named_parameters()}
        else:
            assert trained and all(any(part in n for part in expect) for n in trained)
        model.requires_grad_(True)  # undone by the next train(), as the Swin's frozen weights are
        assert model.train() is model and trained == {n for n, p in model.named_parameters() if p.requires_grad}
    model = ScaleNetVisionTransformer(**kwargs, out_indices=(2, 5)).eval()
    checkpointed = ScaleNetVisionTransformer(**kwargs, out_indices=(2, 5), with_cp=True).eval()
    checkpointed.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 48, 48, requires_grad=True)
    for a, b in zip(model(x), checkpointed(x)):
        torch.testing.assert_close(a, b)
    assert model.drop_path_rates == tuple(torch.linspace(0, 0.2, 6).tolist())
    depths = {name: model.get_layer_depth(name)[0] for name in
              ('cls_token', 'pos_embed', 'patch_embed.projection.weight', 'layers.0.ln1.weight',
               'layers.2.ffn.layers.1.weight', 'adapters.4.fc1.down.weight', 'ln1.weight')}
    assert depths == {'cls_token': 0, 'pos_embed': 0, 'patch_embed.projection.weight': 0, 'layers.0.ln1.weight': 1,
                      'layers.2.ffn.layers.1.weight': 3, 'adapters.4.fc1.down.weight': 5, 'ln1.weight': 7}


@pytest.mark.parametrize('kwargs, message', [
    (dict(arch='deit-huge'), 'arch=.deit-huge. is not known'),
    (dict(arch='deit-small', embed_dims=384), 'give either arch'),
    (dict(depth_scale=(2, 2)), 'one positive number'),
    (dict(layer_map=[p % 11 for p in range(24)]), r'never runs source block\(s\) \[11\]'),
    (dict(out_indices=(3, 24), depth_scale=2), r'out_indices=\(3, 24\) must be distinct positions in 0..23'),
    (dict(pre_norm=True), 'pre_norm=True'),
    (dict(norm_eval=True), 'no effect on LayerNorm'),
    (dict(frozen_exclude=['cls_token']), 'frozen_exclude'),
    (dict(patch_pad='same'), 'patch_pad'),
    (dict(norm_cfg=dict(type='BN')), 'LayerNorm'),
    (dict(output_cls_token=True, with_cls_token=False), 'with_cls_token=True'),
    (dict(trainable='adapters', adapter=None), 'needs adapters'),
])
def test_bad_arguments_are_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ScaleNetVisionTransformer(**kwargs)
