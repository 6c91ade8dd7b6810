"""gate_inserted: a zero-initialised learnable gate on both residual branches of every inserted position, so a
grown model starts exactly as its source network (Swin and ViT)."""
import pytest
import torch

import scalenet_mm  # noqa: F401
from scalenet_mm import ScaleNetSwinTransformer, ScaleNetVisionTransformer
from scalenet_mm.checkpoint import export_plain, load_pretrained

SWIN = dict(arch=dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4)), window_size=4,
            drop_path_rate=0.0, pad_small_map=False)
VIT = dict(arch=dict(embed_dims=32, num_layers=3, num_heads=2), patch_bias=True, out_indices=-1, final_norm=True)
BACKBONES = {'swin': (ScaleNetSwinTransformer, SWIN), 'vit': (ScaleNetVisionTransformer, VIT)}


def source_file(tmp_path, kind):
    cls, kwargs = BACKBONES[kind]
    source = cls(adapter=None, **kwargs)
    source.init_weights()
    path = tmp_path / f'{kind}_source.pth'
    torch.save({'state_dict': source.state_dict()}, path)
    return source.eval(), str(path)


def open_adapters(model, positions=None):
    """Give adapters (of all positions, or of ``positions`` of every scaled sequence) a non-zero ``up``."""
    with torch.no_grad():
        for sequence in model.shared_positions().values():
            for p, adapters in enumerate(sequence.adapters):
                if positions is None or p in positions(sequence):
                    for adapter in adapters.values():
                        adapter.up.weight.normal_(std=0.1)


def inserted(sequence):
    return set(range(sequence.depth)) - set(sequence.plan.original_positions)


@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_gated_inserted_positions_start_as_the_identity_whatever_their_adapters(tmp_path, kind):
    source, path = source_file(tmp_path, kind)
    cls, kwargs = BACKBONES[kind]
    grown = cls(depth_scale=2, gate_inserted=True, **kwargs)
    load_pretrained(grown, path)
    for prefix, sequence in grown.shared_positions().items():
        assert sorted(int(p) for p in sequence.gates) == sorted(inserted(sequence)), prefix
        assert all(gate.item() == 0 for gate in sequence.gates.values())
    open_adapters(grown, inserted)  # the inserted positions' own adapters moved: still the identity
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(grown.eval()(x), source(x)):
            torch.testing.assert_close(a, b)
    # without gates the same adapters change the function
    ungated = cls(depth_scale=2, **kwargs)
    load_pretrained(ungated, path)
    open_adapters(ungated, inserted)
    with torch.no_grad():
        assert not torch.allclose(ungated.eval()(x)[-1], source(x)[-1])


@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_gates_get_gradients_and_train_under_every_policy(kind):
    cls, kwargs = BACKBONES[kind]
    for trainable in ('all', 'adapters_norms', 'adapters'):
        model = cls(depth_scale=2, gate_inserted=True, trainable=trainable, **kwargs)
        model.init_weights()
        gates = [g for s in model.shared_positions().values() for g in s.gates.values()]
        assert gates and all(g.requires_grad for g in gates)
    sum(o.square().mean() for o in model.train()(torch.randn(2, 3, 64, 64))).backward()
    assert all(g.grad is not None and g.grad.abs() > 0 for g in gates)  # learning starts through the gates
    depth = {name: model.get_layer_depth(name)[0] for name, _ in model.named_parameters() if 'gates' in name}
    positions = {name: int(name.split('.')[-1]) for name in depth}
    if kind == 'vit':
        assert all(depth[name] == positions[name] + 1 for name in depth)


@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_export_folds_gates_and_lora_adapters_into_a_plain_model(kind):
    cls, kwargs = BACKBONES[kind]
    grown = cls(depth_scale=2, gate_inserted=True, adapter=dict(type='lora', targets=('qkv', 'proj', 'fc2'), dim=4),
                **kwargs)
    grown.init_weights()
    open_adapters(grown)
    with torch.no_grad():
        for sequence in grown.shared_positions().values():
            for gate in sequence.gates.values():
                gate.uniform_(-1, 1)
    depths = dict(scaled_depths=grown.scaled_depths) if kind == 'swin' else dict(scaled_depth=grown.depth)
    plain = cls(adapter=None, unshare=True, **depths, **kwargs)
    state = export_plain(grown)
    state.update({k: v for k, v in plain.state_dict().items() if k.endswith('layer_map')})
    plain.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(grown.eval()(x), plain.eval()(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_gated_checkpoint_round_trip(tmp_path):
    model = ScaleNetSwinTransformer(depth_scale=2, gate_inserted=True, **SWIN)
    model.init_weights()
    with torch.no_grad():
        model.stages[0].gates['2'].fill_(0.5)
    assert 'stages.0.gates.2' in model.state_dict() and 'stages.0.gates.0' not in model.state_dict()
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'gated.pth')
    again = ScaleNetSwinTransformer(depth_scale=2, gate_inserted=True, **SWIN)
    report = load_pretrained(again, str(tmp_path / 'gated.pth'))
    assert report.format == 'scalenet' and again.stages[0].gates['2'].item() == 0.5
    with pytest.raises(ValueError, match='gates'):
        load_pretrained(ScaleNetSwinTransformer(depth_scale=2, **SWIN), str(tmp_path / 'gated.pth'))
