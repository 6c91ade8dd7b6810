"""Bad requests fail at build time with a message naming the argument and what is allowed."""
import pytest

from scalenet_mm import ScaleNetSwinTransformer

from conftest import SMALL_ARCH


@pytest.mark.parametrize('kwargs, message', [
    (dict(arch='huge'), "arch='huge' is not known"),
    (dict(arch=dict(embed_dims=16, depths=(2, 2))), 'must be a zoo name or a dict'),
    (dict(depth_scale=0.5), 'below the source depths'),
    (dict(scaled_depths=(2, 2, 4, 2)), 'below the source depths'),
    (dict(depth_scale=2, scaled_depths=(4, 4, 12, 4)), 'either depth_scale or scaled_depths'),
    (dict(layer_map='zigzag', depth_scale=2), "layer_map='zigzag' is not known"),
    (dict(arch=SMALL_ARCH, layer_map=[[0, 1, 0, 1], [0, 1, 2, 1], [0, 1], [0, 1]]),
     'layer_map[1][2]=2 is out of range'),
    (dict(arch=SMALL_ARCH, layer_map=[[0, 1, -1, 1], [0, 1], [0, 1], [0, 1]]), 'sharing is only within a stage'),
    (dict(arch=SMALL_ARCH, layer_map=[[0, 0, 0, 0], [0, 1], [0, 1], [0, 1]]), 'never runs source block(s) [1]'),
    (dict(layer_map='interleave', depth_scale=2), "set shift_policy='by_position' or 'inherit_source'"),
    (dict(depth_scale=2, unshare=True, share_norms=False), 'leave share_norms=True'),
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
    (dict(init_cfg=dict(type='Pretrained', checkpoint='a.pth', map_location='cuda')), 'only dict(type=\'Pretrained\''),
    # mmdet/mmseg SwinTransformer arguments: contradictions and what a Swin checkpoint cannot fit
    (dict(arch='tiny', embed_dims=96), "give either arch='tiny' or mmdet-style ['embed_dims']"),
    (dict(arch='small', depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24)), "mmdet-style ['depths', 'num_heads']"),
    (dict(depths=(2, 2, 6), num_heads=(3, 6, 12, 24)), 'differ in length'),
    (dict(strides=(4, 2, 2, 1)), 'strides=(4, 2, 2, 1) cannot be honoured'),
    (dict(patch_size=4, strides=(2, 2, 2, 2)), 'must be (4, 2, 2, 2) for 4 stages'),
    (dict(norm_cfg=dict(type='BN')), "norm_cfg={'type': 'BN'} cannot be honoured"),
    (dict(norm_cfg=dict(type='LN', eps=1e-6)), 'LayerNorm (eps 1e-5)'),
    (dict(norm_cfg=dict(type='LN', requires_grad=False)), 'freeze with frozen_stages'),
    (dict(act_cfg=dict(type='ReLU')), "act_cfg={'type': 'ReLU'} cannot be honoured"),
    (dict(act_cfg=dict(type='GELU', approximate='tanh')), 'exact GELU'),
    (dict(pretrained='a.pth', init_cfg=dict(type='Pretrained', checkpoint='b.pth')), 'cannot be given together'),
    (dict(pretrained=3), 'must be a checkpoint path'),
    (dict(pretrain_img_size=(224, 224, 3)), 'pretrain_img_size=(224, 224, 3) must be'),
    (dict(convert_weights='yes'), "convert_weights='yes' must be True or False"),
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
    assert model.stages[0].shifted == (False, False, True, True)
    by_position = ScaleNetSwinTransformer(arch=SMALL_ARCH, layer_map='interleave', depth_scale=2,
                                          shift_policy='by_position')
    assert by_position.stages[0].shifted == (False, True, False, True)


def test_adapter_positions_and_per_position_norms():
    model = ScaleNetSwinTransformer(arch=SMALL_ARCH, depth_scale=2, share_norms=False,
                                    adapter=dict(positions='inserted', targets='fc1'))
    stage = model.stages[0]
    assert [len(a) for a in stage.adapters] == [0, 0, 1, 1]
    assert [len(n) for n in stage.position_norms] == [0, 0, 2, 2]
    model.init_weights()
    assert (stage.position_norms[2]['norm1'].weight == stage.blocks[0].norm1.weight).all()


def test_mmdet_style_arguments_mean_what_they_mean_in_mmdet():
    from mmdet.models.backbones import SwinTransformer
    kwargs = dict(embed_dims=32, depths=(2, 4), num_heads=(2, 4), window_size=4, strides=(4, 2), mlp_ratio=3,
                  out_indices=(1, ), norm_cfg=dict(type='LN', requires_grad=True), act_cfg=dict(type='GELU'),
                  pretrain_img_size=64, convert_weights=True, frozen_stages=1)
    ours, reference = ScaleNetSwinTransformer(**kwargs), SwinTransformer(**kwargs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items() if 'layer_map' not in k
            and '.adapters.' not in k} == {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    reference.train()  # mmdet freezes frozen_stages only here; ours at build time already
    frozen = {n for n, p in ours.named_parameters() if not p.requires_grad}
    assert {n for n in frozen if '.adapters.' not in n} == {n for n, p in reference.named_parameters()
                                                            if not p.requires_grad}
    assert all(n.startswith('stages.0.') for n in frozen if '.adapters.' in n)  # a frozen stage's adapters too
    assert ScaleNetSwinTransformer().arch == ScaleNetSwinTransformer(arch='tiny').arch  # mmdet's default: Swin-T


def test_deprecated_pretrained_path_loads_like_init_cfg(tmp_path):
    import torch

    from conftest import perturb_
    source = perturb_(ScaleNetSwinTransformer(arch=SMALL_ARCH, window_size=4, adapter=None))
    path = str(tmp_path / 'swin.pth')
    torch.save(source.state_dict(), path)
    model = ScaleNetSwinTransformer(arch=SMALL_ARCH, window_size=4, adapter=None, pretrained=path)
    assert model.init_cfg == dict(type='Pretrained', checkpoint=path)
    model.init_weights()
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in model.state_dict().items())


def test_a_shift_policy_is_a_no_op_for_maps_that_keep_the_parity():
    plain = ScaleNetSwinTransformer(arch=SMALL_ARCH, depth_scale=2)
    for policy in ('by_position', 'inherit_source'):
        model = ScaleNetSwinTransformer(arch=SMALL_ARCH, depth_scale=2, shift_policy=policy)
        assert [st.shifted for st in model.stages] == [st.shifted for st in plain.stages]
