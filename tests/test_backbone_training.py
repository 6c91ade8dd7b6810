"""Training behaviour: trainable policies, frozen stages, mmengine's optimizer constructor, checkpointing."""
import pytest
import torch
from mmengine.optim import build_optim_wrapper

from scalenet_mm.models.scaling.adapters import LowRankAdapter

from conftest import SMALL_ARCH, build, perturb_

# the paramwise_cfg of mmdet's Swin Mask R-CNN configs
SWIN_PARAMWISE_CFG = dict(custom_keys={'absolute_pos_embed': dict(decay_mult=0.),
                                       'relative_position_bias_table': dict(decay_mult=0.),
                                       'norms': dict(decay_mult=0.), 'norm': dict(decay_mult=0.)})


def loss_of(model, size=(45, 53)):
    return sum(o.square().mean() for o in model(torch.randn(2, 3, *size)))


@pytest.mark.parametrize('trainable', ['all', 'adapters_norms', 'adapters'])
def test_trainable_policy_gradients_and_frozen_weights_do_not_move(trainable):
    model = perturb_(build(depth_scale=2, trainable=trainable))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.05)
    loss_of(model).backward()
    for name, param in model.named_parameters():
        module_name = name.rsplit('.', 1)[0]
        module = model.get_submodule(module_name)
        owner_is_adapter = isinstance(model.get_submodule(module_name.rsplit('.', 1)[0]), LowRankAdapter)
        expected = (trainable == 'all' or owner_is_adapter
                    or (trainable == 'adapters_norms' and isinstance(module, torch.nn.LayerNorm)))
        assert param.requires_grad == expected, name
        if expected:
            assert param.grad is not None and param.grad.abs().sum() > 0, f'{name} got no gradient'
        else:
            assert param.grad is None, name
    optimizer.step()
    for name, param in model.named_parameters():
        assert torch.equal(param, before[name]) != param.requires_grad, name


def test_trainable_policy_survives_train_and_eval():
    model = build(depth_scale=2, trainable='adapters_norms', frozen_stages=1)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert model.train() is model
    model.eval()
    model.train()
    assert frozen == {n for n, p in model.named_parameters() if not p.requires_grad}
    assert not model.stages[0].training and not model.patch_embed.training and model.stages[1].training
    assert all(not p.requires_grad for p in model.stages[0].parameters())
    # as mmdet's Swin re-freezes in train(): outside code that unfreezes everything is undone by the next train()
    model.requires_grad_(True)
    model.train()
    assert frozen == {n for n, p in model.named_parameters() if not p.requires_grad}
    model.requires_grad_(True)
    model.eval()  # eval() is train(False): the policy holds in both modes
    assert frozen == {n for n, p in model.named_parameters() if not p.requires_grad}


def test_frozen_stages_applied_at_build_time():
    model = build(frozen_stages=2)
    assert all(not p.requires_grad for p in model.patch_embed.parameters())
    assert all(not p.requires_grad for s in model.stages[:2] for p in s.parameters())
    assert all(p.requires_grad for p in model.stages[2].parameters())


def test_mmengine_optimizer_holds_each_parameter_once():
    model = build(depth_scale=2)
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
        paramwise_cfg=SWIN_PARAMWISE_CFG))
    ids = [id(p) for group in wrapper.optimizer.param_groups for p in group['params']]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    no_decay = {id(p) for g in wrapper.optimizer.param_groups if g['weight_decay'] == 0 for p in g['params']}
    table = model.stages[0].blocks[0].attn.w_msa.relative_position_bias_table
    assert id(table) in no_decay and id(model.stages[0].blocks[0].norm1.weight) in no_decay
    assert id(model.stages[0].blocks[0].ffn.fc1.weight) not in no_decay


def test_with_cp_gives_same_outputs_and_gradients():
    kwargs = dict(depth_scale=2, adapter=dict(targets=('fc1', 'qkv'), dim=4))
    plain = perturb_(build(**kwargs))
    checkpointed = build(with_cp=True, **kwargs)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 45, 53)
    out_plain, out_cp = plain(x), checkpointed(x)
    for a, b in zip(out_plain, out_cp):
        torch.testing.assert_close(a, b)
    sum(o.square().mean() for o in out_plain).backward()
    sum(o.square().mean() for o in out_cp).backward()
    cp_params = dict(checkpointed.named_parameters())
    for name, param in plain.named_parameters():
        torch.testing.assert_close(cp_params[name].grad, param.grad, rtol=1e-5, atol=1e-7)


def test_autocast_mixed_precision_runs_adapted_linears_and_trains_adapters():
    """AmpOptimWrapper's autocast (bf16 here on CPU, fp16 on GPU) through every adapter target."""
    model = perturb_(build(depth_scale=2, adapter=dict(targets=('fc1', 'fc2', 'qkv', 'proj'), dim=4)))
    x = torch.randn(2, 3, 45, 53)
    with torch.no_grad():
        reference = model(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(x)
    assert all(o.dtype == torch.bfloat16 for o in outs)
    for low, full in zip(outs, reference):
        torch.testing.assert_close(low.float(), full, rtol=0.05, atol=0.05)
    sum(o.float().square().mean() for o in outs).backward()
    up = model.stages[1].adapters[1]['fc2'].up.weight
    assert up.grad is not None and up.grad.dtype == torch.float32 and up.grad.isfinite().all() and up.grad.any()


def test_drop_path_is_per_position():
    model = build(arch=SMALL_ARCH, depth_scale=2, drop_path_rate=0.3)
    rates = [r for stage in model.stages for r in stage.drop_path_rates]
    assert len(rates) == 16
    torch.testing.assert_close(torch.tensor(rates), torch.linspace(0, 0.3, 16))


def test_get_layer_depth_counts_positions():
    model = build(depth_scale=2)
    num_layers = 16 + 2
    assert model.get_layer_depth('backbone.patch_embed.projection.weight', 'backbone.') == (0, num_layers)
    # block 1 of stage 1 first runs at position 1 of stage 1 -> 4 positions of stage 0 before it
    assert model.get_layer_depth('stages.1.blocks.1.ffn.layers.1.weight') == (4 + 1 + 1, num_layers)
    assert model.get_layer_depth('stages.1.adapters.3.fc1.down.weight') == (4 + 3 + 1, num_layers)
    assert model.get_layer_depth('stages.1.downsample.reduction.weight') == (8, num_layers)
    assert model.get_layer_depth('norm3.weight') == (num_layers - 1, num_layers)
    depths = [model.get_layer_depth(n)[0] for n, _ in model.named_parameters()]
    assert min(depths) == 0 and max(depths) == num_layers - 1
