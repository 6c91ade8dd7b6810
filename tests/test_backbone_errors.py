"""Bad requests fail at build time with a message naming the argument and what is allowed."""
import pytest
from conftest import SMALL_ARCH

from scalenet_mm import ScaleNetSwinTransformer


@pytest.mark.parametrize('kwargs, message', [
    (dict(arch='huge'), "arch='huge' is not known"),
    (dict(arch=dict(embed_dims=16, depths=(2, 2))), 'must be a zoo name or a dict'),
    (dict(depth_scale=0.5), 'below the source depths'),
    (dict(scaled_depths=(2, 2, 4, 2)), 'below the source depths'),
    (dict(depth_scale=2, scaled_depths=(4, 4, 12, 4)), 'either depth_scale or scaled_depths'),
    (dict(layer_map='zigzag', depth_scale=2), "layer_map='zigzag' is not known"),
    (dict(arch=SMALL_ARCH, layer_map=[[0, 1, 0, 1], [0, 1, 2, 1], [0, 1], [0, 1]]), 'layer_map[1][2]=2 is out of range'),
    (dict(arch=SMALL_ARCH, layer_map=[[0, 1, -1, 1], [0, 1], [0, 1], [0, 1]]), 'sharing is only within a stage'),
    (dict(arch=SMALL_ARCH, layer_map=[[0, 0, 0, 0], [0, 1], [0, 1], [0, 1]]), 'never runs source block(s) [1]'),
    (dict(layer_map='interleave', depth_scale=2), "set shift_policy='by_position' or 'inherit_source'"),
    (dict(depth_scale=2, shift_policy='by_position'), 'leave shift_policy=None'),
    (dict(layer_map='interleave', depth_scale=2, shift_policy='sideways'), "shift_policy='sideways' is not known"),
    (dict(adapter=dict(targets=('fc3',))), "adapter targets ['fc3'] match no linear"),
    (dict(adapter=dict(dim=0)), 'adapter dim=0 must be a positive integer'),
    (dict(adapter=dict(dim=-4)), 'adapter dim=-4 must be a positive integer'),
    (dict(adapter=dict(type='prefix')), "adapter type='prefix' is not known"),
    (dict(adapter=dict(dims=8)), "unknown key(s) ['dims']"),
    (dict(adapter=dict(positions='odd')), "positions='odd' is not known"),
    (dict(trainable='heads'), "trainable='heads' is not known"),
    (dict(trainable='adapters', adapter=None), 'nothing would train'),
    (dict(out_indices=(0, 4)), 'out_indices=(0, 4)'),
    (dict(frozen_stages=7), 'frozen_stages=7'),
    (dict(init_cfg=dict(type='Kaiming')), 'only dict(type=\'Pretrained\''),
])
def test_bad_request_raises_with_a_useful_message(kwargs, message):
    with pytest.raises(ValueError) as info:
        ScaleNetSwinTransformer(**kwargs)
    assert message in str(info.value)


def test_unknown_argument_is_not_swallowed():
    with pytest.raises(TypeError, match='depth_scal'):
        ScaleNetSwinTransformer(depth_scal=2)


def test_aliases_and_scaled_depths():
    assert ScaleNetSwinTransformer(arch='t', depth_scale=1.5).scaled_depths == (3, 3, 9, 3)
    assert ScaleNetSwinTransformer(arch='S', depth_scale=2).scaled_depths == (4, 4, 36, 4)
    assert ScaleNetSwinTransformer(arch='tiny', depth_scale=(1, 1, 2, 1)).scaled_depths == (2, 2, 12, 2)
    model = ScaleNetSwinTransformer(arch=SMALL_ARCH, layer_map='interleave', depth_scale=2,
                                    shift_policy='inherit_source')
    assert model.stages[0].layer_map.tolist() == [0, 0, 1, 1]
    assert model.stages[0].plan.shifted == (False, False, True, True)
    by_position = ScaleNetSwinTransformer(arch=SMALL_ARCH, layer_map='interleave', depth_scale=2,
                                          shift_policy='by_position')
    assert by_position.stages[0].plan.shifted == (False, True, False, True)


def test_adapter_positions_and_per_position_norms():
    model = ScaleNetSwinTransformer(arch=SMALL_ARCH, depth_scale=2, share_norms=False,
                                    adapter=dict(positions='inserted', targets='fc1'))
    stage = model.stages[0]
    assert [len(a) for a in stage.adapters] == [0, 0, 1, 1]
    assert [len(n) for n in stage.position_norms] == [0, 0, 2, 2]
    model.init_weights()
    assert (stage.position_norms[2]['norm1'].weight == stage.blocks[0].norm1.weight).all()
