"""The ScaleNet backbone contract, checked over both backbones (as timm's tests loop over its model registry):
each is a :class:`ScaleNetBackbone`, its checkpoint round-trips, layer-wise lr decay places every parameter
where the per-position key parser says, and ``train()`` keeps frozen weights frozen."""
import pytest
import torch

from scalenet_mm import ScaleNetSwinTransformer, ScaleNetVisionTransformer
from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.checkpoint.convert import LAYOUTS
from scalenet_mm.models.scaling.scalenet_backbone import ScaleNetBackbone, find_position_key

from conftest import SMALL_ARCH, perturb_

# every per-position part present: LoRA adapters, own norms at inserted positions, gates
PER_POSITION = dict(adapter=dict(type='lora', targets=('fc1', 'qkv'), dim=4), share_norms=False, gate_inserted=True)
BACKBONES = {
    'swin': lambda **kwargs: ScaleNetSwinTransformer(**{**dict(arch=SMALL_ARCH, window_size=4, drop_path_rate=0.0,
                                                               use_abs_pos_embed=True, pretrain_img_size=32),
                                                        **kwargs}),
    'vit': lambda **kwargs: ScaleNetVisionTransformer(**{**dict(arch=dict(embed_dims=32, num_layers=3, num_heads=2),
                                                                img_size=32, patch_size=8, out_indices=(2, 5)),
                                                         **kwargs}),
}
# a layer map other than the default cyclic one, for the refused-map check
OTHER_MAP = {'swin': dict(layer_map='interleave', shift_policy='by_position'), 'vit': dict(layer_map='interleave')}
# what frozen_stages freezes beside the trainable policy (Swin only)
FROZEN = {'swin': (dict(frozen_stages=1), lambda m: [m.patch_embed, m.stages[0]]), 'vit': ({}, lambda m: [])}
# an input off the pretraining grid: the position embeddings are resized
INPUT = (1, 3, 40, 56)


def build(name: str, **kwargs) -> ScaleNetBackbone:
    model = BACKBONES[name](depth_scale=2, **{**PER_POSITION, **kwargs})
    model.init_weights()
    return model


@pytest.mark.parametrize('name', BACKBONES)
def test_each_backbone_satisfies_the_contract(name):
    model = build(name)
    assert isinstance(model, ScaleNetBackbone)
    assert model.architecture in LAYOUTS
    assert model.scaled_depths == tuple(2 * d for d in model.source_depths)
    assert [positions.depth for positions in model.shared_positions().values()] == list(model.scaled_depths)
    assert f'scaled_depths={model.scaled_depths}' in model.extra_repr()
    assert not isinstance(torch.nn.Linear(2, 2), ScaleNetBackbone)


@pytest.mark.parametrize('name', BACKBONES)
def test_checkpoint_round_trip(tmp_path, name):
    trained = perturb_(build(name)).eval()
    fresh = build(name).eval()
    fresh.load_state_dict(trained.state_dict(), strict=True)
    path = str(tmp_path / 'scalenet.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in trained.state_dict().items()}}, path)
    loaded = build(name).eval()
    report = load_pretrained(loaded, path, prefix='backbone.')
    assert report.format == 'scalenet' and not report.initialised
    x = torch.randn(*INPUT)
    with torch.no_grad():
        expected = trained(x)
        for model in (fresh, loaded):
            for a, b in zip(expected, model(x)):
                assert torch.equal(a, b)
    with pytest.raises(ValueError, match='checkpoint map'):
        load_pretrained(build(name, **OTHER_MAP[name]), path)


@pytest.mark.parametrize('name', BACKBONES)
def test_layer_depth_of_every_parameter_follows_the_key_parser(name):
    model = build(name, **OTHER_MAP[name])  # interleaved: a block first runs at a position of another number
    num_layers = sum(model.scaled_depths) + 2
    offsets, before = {}, 0
    for prefix, positions in model.shared_positions().items():
        offsets[prefix] = before
        before += positions.depth
    per_position_depths = set()
    for key, _ in model.named_parameters():
        depth, total = model.get_layer_depth(key)
        assert total == num_layers and 0 <= depth < num_layers, key
        assert model.get_layer_depth(f'backbone.{key}', prefix='backbone.') == (depth, total)
        if key.split('.')[0] in model.embedding_names:
            assert depth == 0, key
        found = find_position_key(model, key)
        if found is not None:
            positions, parsed = found
            assert key.startswith(parsed.prefix) and parsed.prefix in offsets
            assert positions.position_of(key[len(parsed.prefix):]) == depth - 1 - offsets[parsed.prefix], key
            if parsed.is_per_position:
                assert parsed.index == depth - 1 - offsets[parsed.prefix], key
                per_position_depths.add(depth)
            else:  # a block counts at the first position that runs it
                assert positions.position_block.index(parsed.index) == depth - 1 - offsets[parsed.prefix], key
    assert per_position_depths == set(range(1, num_layers - 1))  # adapters at every position


@pytest.mark.parametrize('trainable', ['adapters_norms', 'adapters'])
@pytest.mark.parametrize('name', BACKBONES)
def test_train_keeps_frozen_weights_frozen(name, trainable):
    frozen_kwargs, frozen_modules = FROZEN[name]
    model = build(name, trainable=trainable, **frozen_kwargs)
    trained = {key for key, param in model.named_parameters() if param.requires_grad}
    assert trained and trained != {key for key, _ in model.named_parameters()}
    model.requires_grad_(True)  # outside code; undone by the next train()
    assert model.train() is model
    assert trained == {key for key, param in model.named_parameters() if param.requires_grad}
    for module in frozen_modules(model):
        assert not module.training and not any(p.requires_grad for p in module.parameters())
    model.eval().train(False)
    assert trained == {key for key, param in model.named_parameters() if param.requires_grad}
