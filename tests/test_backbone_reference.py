"""The backbone against independent references: mmdet's and mmseg's Swin, and an untied copy of itself."""
import io

import pytest
import torch

from scalenet_mm import ScaleNetSwinTransformer
from scalenet_mm.models.layers.window_attention import window_geometry

from conftest import SMALL_ARCH, build, perturb_, untied_copy

mmdet_swin = pytest.importorskip('mmdet.models.backbones.swin')
mmseg_swin = pytest.importorskip('mmseg.models.backbones.swin')

SWIN_T_DEPTHS = (2, 2, 6, 2)


def mm_swin(module, depths=SWIN_T_DEPTHS, **kwargs):
    model = module.SwinTransformer(depths=depths, drop_path_rate=0.0, **kwargs)
    model.init_weights()
    return model


def test_state_dict_keys_are_mmdet_keys_plus_adapters_and_map():
    ours = ScaleNetSwinTransformer(arch='tiny', depth_scale=2)
    reference = mm_swin(mmdet_swin)
    ours_keys, reference_keys = set(ours.state_dict()), set(reference.state_dict())
    assert reference_keys <= ours_keys
    extra = ours_keys - reference_keys
    assert all('.adapters.' in k or k.endswith('.layer_map') for k in extra), sorted(extra)[:5]
    assert {k for k in extra if k.endswith('layer_map')} == {f'stages.{s}.layer_map' for s in range(4)}
    assert ours.stages[2].layer_map.tolist() == [0, 1, 2, 3, 4, 5] * 2


def checkpoint_bytes(model: torch.nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def test_checkpoint_stores_each_shared_tensor_once():
    ours = ScaleNetSwinTransformer(arch='tiny', depth_scale=2)
    state = ours.state_dict()
    pointers = [v.data_ptr() for k, v in state.items() if v.numel() > 1]
    assert len(pointers) == len(set(pointers)), 'a tensor is stored under two keys'
    adapters = sum(v.numel() for k, v in state.items() if '.adapters.' in k)
    swin_t = mm_swin(mmdet_swin)
    ratio = checkpoint_bytes(ours) / checkpoint_bytes(swin_t)
    expected = 1 + adapters / sum(v.numel() for v in swin_t.state_dict().values())
    assert ratio == pytest.approx(expected, rel=0.01)
    assert ratio < 1.10


@pytest.mark.parametrize('module', [mmdet_swin, mmseg_swin], ids=['mmdet', 'mmseg'])
@pytest.mark.parametrize('arch', ['tiny', 'small_arch'])
def test_scale_one_equals_mm_swin(module, arch):
    kwargs = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=4) \
        if arch == 'small_arch' else {}
    reference = perturb_(mm_swin(module, **kwargs))
    reference.eval()  # mmdet/mmseg Swin's train() returns None: no chaining
    ours = ScaleNetSwinTransformer(arch=SMALL_ARCH if kwargs else 'tiny', adapter=None, drop_path_rate=0.0,
                                   window_size=kwargs.get('window_size', 7)).eval()
    state = dict(reference.state_dict())
    state.update({k: v for k, v in ours.state_dict().items() if k.endswith('layer_map')})
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 97, 131)
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert len(got) == len(expected) == 4
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        torch.testing.assert_close(g, e, rtol=1e-5, atol=2e-5)


def test_zero_adapters_make_every_position_compute_its_source_block():
    with_adapters = perturb_(build(depth_scale=2))
    for adapter in (m for m in with_adapters.modules() if hasattr(m, 'reset_parameters') and hasattr(m, 'up')):
        adapter.reset_parameters()  # zero `up` again after perturbing
    plain = build(depth_scale=2, adapter=None)
    state = {k: v for k, v in with_adapters.state_dict().items() if '.adapters.' not in k}
    plain.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 61, 75)
    # position by position: each position's output equals its source block run without adapters
    for stage_mod, plain_stage in zip(with_adapters.stages, plain.stages):
        tokens = torch.randn(1, 8 * 9, stage_mod.blocks[0].norm1.normalized_shape[0])
        geometry = window_geometry((8, 9), stage_mod.window_size, stage_mod.pad_small_map, tokens.device)
        for position in range(stage_mod.depth):
            block = stage_mod.blocks[stage_mod.position_block[position]]
            a = block(tokens, (8, 9), geometry, stage_mod.position_context(position))
            b = block(tokens, (8, 9), geometry, plain_stage.position_context(position))
            assert torch.equal(a, b)
    with torch.no_grad():
        for a, b in zip(with_adapters.eval()(x), plain.eval()(x)):
            assert torch.equal(a, b)


def test_shared_positions_share_storage_and_gradients_sum_over_positions():
    kwargs = dict(arch=SMALL_ARCH, depth_scale=2, window_size=4, drop_path_rate=0.0,
                  adapter=dict(targets=('fc1', 'fc2', 'qkv', 'proj'), dim=4))
    shared = perturb_(build(**{k: v for k, v in kwargs.items()}))
    for stage in shared.stages:
        for p in range(stage.depth):
            for q in range(stage.depth):
                if stage.position_block[p] == stage.position_block[q]:
                    a = stage.blocks[stage.position_block[p]].ffn.fc1.weight
                    b = stage.blocks[stage.position_block[q]].ffn.fc1.weight
                    assert a.data_ptr() == b.data_ptr()
    untied = untied_copy(shared, **kwargs)
    x = torch.randn(2, 3, 45, 53)
    sum(o.square().mean() for o in shared(x)).backward()
    sum(o.square().mean() for o in untied(x)).backward()
    untied_params = dict(untied.named_parameters())
    for name, param in shared.named_parameters():
        assert param.grad is not None, name
        parts = name.split('.')
        if len(parts) > 3 and parts[0] == 'stages' and parts[2] == 'blocks':
            stage = shared.stages[int(parts[1])]
            positions = [p for p in range(stage.depth) if stage.position_block[p] == int(parts[3])]
            expected = sum(untied_params['.'.join(parts[:3] + [str(p)] + parts[4:])].grad for p in positions)
        else:
            expected = untied_params[name].grad
        torch.testing.assert_close(param.grad, expected, rtol=1e-4, atol=1e-6)


def test_outputs_equal_untied_copy():
    kwargs = dict(arch=SMALL_ARCH, depth_scale=1.5, window_size=4, drop_path_rate=0.0)
    shared = perturb_(build(**kwargs)).eval()
    untied = untied_copy(shared, **kwargs).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(shared(x), untied(x)):
            torch.testing.assert_close(a, b)


def test_adapter_plus_linear_equals_linear_plus_branch_in_value_and_gradients():
    from scalenet_mm.models.scaling.adapters import LowRankAdapter
    for nonlinear, bias in ((True, True), (False, True), (True, False)):
        adapter = LowRankAdapter(12, 20, dim=4, scale=0.5, nonlinear=nonlinear)
        torch.nn.init.normal_(adapter.up.weight)
        linear = torch.nn.Linear(12, 20, bias=bias)
        x = torch.randn(2, 12, 7).transpose(1, 2).requires_grad_()  # (2, 7, 12), not contiguous
        fused = adapter.plus_linear(linear.weight, linear.bias, x)
        branch = 0.5 * adapter.up(torch.nn.functional.gelu(adapter.down(x)) if nonlinear else adapter.down(x))
        expected = linear(x) + branch
        torch.testing.assert_close(fused, expected)
        torch.testing.assert_close(fused, linear(x) + adapter(x))
        weights = [x, linear.weight, adapter.down.weight, adapter.up.weight] + ([linear.bias] if bias else [])
        grad = torch.randn_like(expected)
        for got, want in zip(torch.autograd.grad(fused, weights, grad), torch.autograd.grad(expected, weights, grad)):
            torch.testing.assert_close(got, want)


def test_absolute_position_embedding_as_mmdet_and_resized_for_other_sizes():
    kwargs = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=4, pretrain_img_size=64,
                  use_abs_pos_embed=True, drop_path_rate=0.0)
    reference = perturb_(mm_swin(mmdet_swin, **{k: v for k, v in kwargs.items() if k != 'drop_path_rate'}))
    reference.eval()
    ours = ScaleNetSwinTransformer(adapter=None, **kwargs).eval()
    state = dict(reference.state_dict(), **{k: v for k, v in ours.state_dict().items() if k.endswith('layer_map')})
    ours.load_state_dict(state, strict=True)
    assert ours.absolute_pos_embed.shape == (1, 16 * 16, 16)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for g, e in zip(ours(x), reference(x)):
            torch.testing.assert_close(g, e, rtol=1e-5, atol=2e-5)
        larger = torch.randn(1, 3, 96, 128)
        with pytest.raises(RuntimeError):
            reference(larger)  # mmdet adds the 16x16 embedding as is
        assert [o.shape[-2:] for o in ours(larger)] == [(24, 32), (12, 16), (6, 8), (3, 4)]
    assert ours.get_layer_depth('absolute_pos_embed')[0] == 0
