"""Growing inside one run: a backbone trains at its source depth (inserted positions skipped, at the source's
cost) and GrowthScheduleHook switches the inserted positions on at scheduled epochs or iterations; the function
is unchanged at the switch with gates, skipped parameters see no decay or momentum, resume across the switch is
exact, and FLOPs / parameters / the benchmark report the active depth (Swin and ViT)."""
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop, Runner
from torch.nn.parallel import DistributedDataParallel

import scalenet_mm  # noqa: F401
from scalenet_mm import ScaleNetSwinTransformer, ScaleNetVisionTransformer
from scalenet_mm.analysis.flops import count_flops
from scalenet_mm.analysis.param_count import count_parameters
from scalenet_mm.checkpoint.load import read_checkpoint
from scalenet_mm.engine import GrowthScheduleHook
from scalenet_mm.models.scaling.growth import growing_backbone

from conftest import (CLASSIFICATION_DEMO, DETECTION_DEMO, SEGMENTATION_DEMO, assert_same, classification_demo_cfg,
                      perturb_, run_script, run_two_iterations_with, train_with_our_tool)

SWIN = dict(arch=dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4)), window_size=4,
            drop_path_rate=0.0, pad_small_map=False)
# 3 layers -> 6 positions; outputs after an original (2), a skipped-at-0.5 (5) and an inserted (4) position
VIT = dict(arch=dict(embed_dims=32, num_layers=3, num_heads=2), patch_bias=True, out_indices=(2, 4, 5),
           final_norm=True)
BACKBONES = {'swin': (ScaleNetSwinTransformer, SWIN), 'vit': (ScaleNetVisionTransformer, VIT)}
X = (2, 3, 64, 64)


def make(kind: str, **kwargs):
    cls, defaults = BACKBONES[kind]
    model = cls(**{**defaults, **kwargs})
    model.init_weights()
    return model


def outputs(model, x, growth):
    model.set_growth(growth)
    with torch.no_grad():
        return model.eval()(x)


def own_tensors(model, positions_of):
    """``{name: tensor}`` of the adapters, norms and gates of the positions ``positions_of(sequence)``."""
    found = {}
    for prefix, sequence in model.shared_positions().items():
        for position in positions_of(sequence):
            for part in ('adapters', 'position_norms', 'gates'):
                for name, param in sequence.named_parameters():
                    if name.startswith(f'{part}.{position}.') or name == f'{part}.{position}':
                        found[prefix + name] = param
    return found


def inserted(sequence):
    return sequence.inserted_positions


def original(sequence):
    return sequence.plan.original_positions


# ----------------------------------------------------------------------------------------------- the backbone
@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_growth_runs_the_originals_and_the_first_inserted_positions_of_each_sequence(kind):
    model = make(kind, depth_scale=2)
    assert model.growth == 1 and model.active_depths == model.scaled_depths  # the default: every position
    # floor(growth * n + 1/2) of the n inserted positions: 2 per Swin stage (2 -> 4), 3 in the ViT (3 -> 6)
    expected = {'swin': {0: (0, 1), 0.2: (0, 1), 0.5: (0, 1, 2), 1: (0, 1, 2, 3)},
                'vit': {0: (0, 1, 2), 0.2: (0, 1, 2, 3), 0.5: (0, 1, 2, 3, 4), 1: (0, 1, 2, 3, 4, 5)}}[kind]
    for growth, active in expected.items():
        model.set_growth(growth)
        assert model.growth == growth
        assert all(s.active_positions == active for s in model.shared_positions().values())
    model.set_growth(0)
    assert model.active_depths == model.source_depths
    assert 'growth=0.0' in model.extra_repr()
    keys = list(model.state_dict())
    model.set_growth(1)  # plain Python state: the state dict keeps its keys
    assert list(model.state_dict()) == keys and 'growth' not in model.extra_repr()


def test_growth_rounds_half_up_per_stage():
    model = make('swin', scaled_depths=(3, 4, 6, 2))  # 1, 2, 4 and 0 inserted positions
    model.set_growth(0.5)
    assert model.active_depths == (3, 3, 4, 2)  # floor(0.5 * n + 1/2): 1 of 1, 1 of 2, 2 of 4


@pytest.mark.parametrize('growth', [-0.1, 1.5, True, '0.5', None])
def test_bad_growth_is_refused(growth):
    model = make('swin', depth_scale=2)
    with pytest.raises(ValueError, match=r'growth=.* must be a number in \[0, 1\]'):
        model.set_growth(growth)
    assert model.active_depths == model.scaled_depths
    with pytest.raises(ValueError, match=r'count=5 must be an integer in 0\.\.2'):
        model.stages[0].set_active_inserted(5)


@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_gated_switch_keeps_the_function_exactly(kind):
    model = perturb_(make(kind, depth_scale=2, gate_inserted=True, share_norms=False))
    for sequence in model.shared_positions().values():
        sequence.close_gates()  # as skipped gates stay until their switch (test_skipped_parameters_...)
    x = torch.randn(*X)
    before = outputs(model, x, 0.0)
    for growth in (0.5, 1.0):
        after = outputs(model, x, growth)
        assert len(after) == len(before) and all(torch.equal(a, b) for a, b in zip(after, before)), growth


@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_without_gates_the_switch_changes_the_function_and_growth_0_is_the_source(kind):
    extra = dict(out_indices=-1) if kind == 'vit' else {}
    grown = perturb_(make(kind, depth_scale=2, **extra))
    x = torch.randn(*X)
    at_source, at_full = outputs(grown, x, 0.0), outputs(grown, x, 1.0)
    assert not torch.allclose(at_source[-1], at_full[-1])  # inserted positions start running blocks + adapters
    # growth 0 computes the source network with the original positions' own adapters
    source = make(kind, **extra)
    state = {k: v for k, v in grown.state_dict().items() if k in source.state_dict() and 'layer_map' not in k}
    missing = source.load_state_dict(state, strict=False).missing_keys
    assert all(k.endswith('layer_map') for k in missing)
    for a, b in zip(at_source, outputs(source, x, 1.0)):
        assert torch.equal(a, b)


@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_skipped_positions_get_no_gradient(kind):
    model = make(kind, depth_scale=2, gate_inserted=True, share_norms=False)
    model.set_growth(0)
    sum(o.sum() for o in model.train()(torch.randn(*X))).backward()
    skipped, kept = own_tensors(model, inserted), own_tensors(model, original)
    assert skipped and all(p.grad is None for p in skipped.values())
    assert kept and all(p.grad is not None for p in kept.values())


@pytest.mark.parametrize('kind', ['swin', 'vit'])
def test_source_depth_costs_the_source_flops_and_counts_its_parameters(kind):
    extra = dict(out_indices=-1) if kind == 'vit' else {}
    grown, source = make(kind, depth_scale=2, **extra), make(kind, **extra)
    shape = X[1:]
    full = count_flops(grown, shape).total()
    grown.set_growth(0)
    assert count_flops(grown, shape).total() == count_flops(source, shape).total() < full
    counts, source_counts = count_parameters(grown)['total'], count_parameters(source)['total']
    assert counts.total == source_counts.total  # with multiplicity: the positions that run
    assert counts.unique == sum(p.numel() for p in grown.parameters())  # a checkpoint still holds everything
    grown.set_growth(0.5)
    half = count_flops(grown, shape).total()
    assert count_flops(source, shape).total() < half < full
    # adapters on inserted positions only: growth 0 is the plain source network
    inserted_only = make(kind, depth_scale=2, adapter=dict(type='parallel', targets=('fc1', 'fc2'), dim=16,
                                                           positions='inserted'), **extra)
    inserted_only.set_growth(0)
    plain = make(kind, adapter=None, **extra)
    assert count_flops(inserted_only, shape).total() == count_flops(plain, shape).total()
    assert count_parameters(inserted_only)['total'].total == count_parameters(plain)['total'].total


def test_growth_needs_a_scalenet_backbone_with_inserted_positions():
    with pytest.raises(ValueError, match='needs a ScaleNet backbone.*got a Linear'):
        growing_backbone(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r'no inserted positions.*depth_scale > 1'):
        growing_backbone(SimpleNamespace(backbone=make('vit', out_indices=-1)))


# ----------------------------------------------------------------------------------------------- the hook
@pytest.mark.parametrize('schedule, match', [
    ([], 'non-empty list'),
    ((0, 1.0), r'schedule\[0\]=0 must be a pair'),
    ([(1, 0.0), (4, 1.0)], 'starts at epoch 1: start it at 0'),
    ([(0, 0.0), (4, 1.5)], r'schedule\[1\]: growth=1.5 must be a number in \[0, 1\]'),
    ([(0, -0.5)], r'schedule\[0\]: growth=-0.5'),
    ([(0, 0.0), (6, 0.5), (4, 1.0)], 'epochs must increase: 4 follows 6'),
    ([(0, 0.0), (4, 0.5), (4, 1.0)], 'epochs must increase: 4 follows 4'),
    ([(0, 1.0), (4, 0.0)], 'must not decrease: 0.0 at epoch 4 follows 1.0'),
    ([(0, 0.0), (2.5, 1.0)], r'schedule\[1\]: epoch 2.5 must be an integer >= 0'),
    ([(0, 0.0), (-1, 1.0)], r'schedule\[1\]: epoch -1 must be an integer >= 0'),
])
def test_bad_schedules_are_refused(schedule, match):
    with pytest.raises(ValueError, match=match):
        GrowthScheduleHook(schedule)


def test_by_epoch_must_be_a_bool():
    with pytest.raises(ValueError, match=r"by_epoch='yes' must be True"):
        GrowthScheduleHook([(0, 0.0)], by_epoch='yes')
    with pytest.raises(ValueError, match='iterations must increase'):
        GrowthScheduleHook([(0, 0.0), (0, 1.0)], by_epoch=False)


def test_growth_of_each_step_follows_the_schedule():
    hook = GrowthScheduleHook([[0, 0], [4, 0.5], [8, 1]])  # lists and ints, as a dumped config gives them
    assert [hook.growth_at(step) for step in range(10)] == [0.0] * 4 + [0.5] * 4 + [1.0] * 2


def fake_runner(model, loop=None, **counters):
    return SimpleNamespace(model=model, train_loop=loop or object(), logger=mock.Mock(),
                           **{'epoch': 0, 'iter': 0, 'max_epochs': 10, 'max_iters': 100, **counters})


def test_hook_refuses_ddp_without_find_unused_parameters():
    classifier = SimpleNamespace(backbone=make('swin', depth_scale=2))
    ddp = mock.Mock(spec=DistributedDataParallel, module=classifier, find_unused_parameters=False)
    hook = GrowthScheduleHook([(0, 0.0), (2, 1.0)])
    with pytest.raises(ValueError, match=r"model_wrapper_cfg=dict\(type='MMDistributedDataParallel', "
                                         r'find_unused_parameters=True\)'):
        hook.before_train(fake_runner(ddp))
    ddp.find_unused_parameters = True
    hook.before_train(fake_runner(ddp, epoch=1))
    assert classifier.backbone.growth == 0.0
    ddp.find_unused_parameters = False  # nothing is ever skipped: DDP needs nothing
    GrowthScheduleHook([(0, 1.0)]).before_train(fake_runner(ddp))


def test_hook_refuses_epochs_in_an_iteration_loop_and_warns_of_a_phase_after_the_end():
    runner = fake_runner(SimpleNamespace(backbone=make('swin', depth_scale=2)), mock.Mock(spec=IterBasedTrainLoop))
    with pytest.raises(ValueError, match='train loop is iteration-based.*use by_epoch=False'):
        GrowthScheduleHook([(0, 0.0), (2, 1.0)]).before_train(runner)
    GrowthScheduleHook([(0, 0.0), (100, 1.0)], by_epoch=False).before_train(runner)
    assert 'the run ends before iteration 100 (max 100)' in runner.logger.warning.call_args[0][0]


def test_a_loaded_checkpoint_runs_at_the_growth_it_was_last_trained_at():
    backbone = make('swin', depth_scale=2)
    runner = fake_runner(SimpleNamespace(backbone=backbone))
    by_epoch, by_iter = GrowthScheduleHook([(0, 0.0), (2, 1.0)]), GrowthScheduleHook([(0, 0.0), (5, 1.0)], False)
    # meta counts what was done: epoch_2.pth trained epochs 0 and 1, both at source depth
    for hook, meta, growth in ((by_epoch, dict(epoch=2, iter=8), 0.0), (by_epoch, dict(epoch=3, iter=12), 1.0),
                               (by_iter, dict(epoch=0, iter=5), 0.0), (by_iter, dict(epoch=0, iter=6), 1.0),
                               (by_epoch, dict(epoch=0, iter=0), 0.0)):
        hook.after_load_checkpoint(runner, dict(meta=meta))
        assert backbone.growth == growth, (hook.unit, meta)
    by_epoch.after_load_checkpoint(runner, dict(state_dict={}))  # no meta: left as it is, and said
    assert backbone.growth == 0.0 and 'no meta epoch count' in runner.logger.warning.call_args[0][0]


# ----------------------------------------------------------------------------------------------- training runs
class Probe(Hook):
    """Records the backbone's inserted/original tensors and optimizer state before training and at the switch,
    and the outputs at the switch just before (growth 0) and after (growth 1)."""
    priority = 'LOWEST'  # after GrowthScheduleHook

    def __init__(self, switch_epoch: int) -> None:
        self.switch_epoch = switch_epoch
        self.seen: dict = {}

    def snapshot(self, runner):
        backbone = runner.model.backbone
        state = runner.optim_wrapper.optimizer.state
        return {group: {name: (p.detach().clone(), dict(state.get(p, {})))
                        for name, p in own_tensors(backbone, positions).items()}
                for group, positions in (('inserted', inserted), ('original', original))}

    def before_train(self, runner):
        self.seen['start'] = self.snapshot(runner)

    def before_train_epoch(self, runner):
        if runner.epoch != self.switch_epoch:
            return
        self.seen['switch'] = self.snapshot(runner)
        backbone, x = runner.model.backbone, torch.randn(2, 3, 32, 32)
        after = outputs(backbone, x, 1.0)
        self.seen['outputs'] = outputs(backbone, x, 0.0), after
        backbone.set_growth(1.0)
        runner.model.train()


OPTIMIZERS = {
    # the demo's AdamW (weight decay 0.05, clip 5.0) through the layer-decay constructor
    'adamw_layer_decay_clip': dict(constructor='scalenet_mm.LayerDecayOptimWrapperConstructor',
                                   paramwise_cfg=dict(layer_decay_rate=0.8)),
    'sgd_momentum': dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.05)),
}


@pytest.fixture(scope='module', params=sorted(OPTIMIZERS))
def grown_run(request, tmp_path_factory):
    """The classification demo (2 iterations an epoch) for 2 epochs, source depth in epoch 0, full in epoch 1."""
    work_dir = tmp_path_factory.mktemp(f'grow_{request.param}')
    cfg = classification_demo_cfg(work_dir)
    cfg.train_cfg.max_epochs = 2
    cfg.model.mixup = None
    cfg.model.backbone.update(gate_inserted=True, share_norms=False)
    for key, value in OPTIMIZERS[request.param].items():
        cfg.optim_wrapper[key] = value  # replaced, not merged
    cfg.custom_hooks = [dict(type='scalenet_mm.GrowthScheduleHook', schedule=[(0, 0.0), (1, 1.0)])]
    runner = Runner.from_cfg(cfg)
    probe = Probe(switch_epoch=1)
    runner.register_hook(probe)
    runner.train()
    return request.param, runner, probe.seen, work_dir


def test_skipped_parameters_see_no_decay_or_momentum_and_start_fresh_at_the_switch(grown_run):
    name, runner, seen, _ = grown_run
    start, switch = seen['start'], seen['switch']
    assert start['inserted'] and start['original']
    for key, (value, state) in switch['inserted'].items():  # untouched while skipped: no decay, no state
        assert torch.equal(value, start['inserted'][key][0]) and state == {}, key
    moved = [k for k, (value, _) in switch['original'].items() if not torch.equal(value, start['original'][k][0])]
    assert len(moved) > len(switch['original']) / 2  # the original positions trained (zero-init up too)
    optimizer_state = runner.optim_wrapper.optimizer.state
    final = own_tensors(runner.model.backbone, inserted)
    assert all(optimizer_state[p] for p in final.values())  # trained after the switch
    assert all(not torch.equal(p, start['inserted'][k][0]) for k, p in final.items() if 'gates' in k)
    if name.startswith('adamw'):  # Adam's bias correction counts from their first step: 2 iterations, not 4
        assert {optimizer_state[p]['step'].item() for p in final.values()} == {2.0}
        assert {optimizer_state[p]['step'].item()
                for p in own_tensors(runner.model.backbone, original).values()} == {4.0}
    else:
        assert all('momentum_buffer' in optimizer_state[p] for p in final.values())


def test_gated_function_is_unchanged_at_the_switch_after_training(grown_run):
    before, after = grown_run[2]['outputs']
    assert all(torch.equal(a, b) for a, b in zip(before, after))


def test_standalone_test_of_a_checkpoint_evaluates_the_depth_it_was_trained_at(grown_run):
    _, runner, _, work_dir = grown_run
    for checkpoint, growth in (('epoch_1.pth', 0.0), ('epoch_2.pth', 1.0)):
        cfg = runner.cfg.copy()
        cfg.work_dir = str(work_dir / f'test_{checkpoint}')
        cfg.load_from = str(work_dir / checkpoint)
        tester = Runner.from_cfg(cfg)
        tester.test()
        assert tester.model.backbone.growth == growth, checkpoint


CLS_OPTIONS = ['train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=32', 'train_cfg.max_epochs=2',
               'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
               'randomness.seed=0', 'randomness.deterministic=True', 'model.backbone.trainable=adapters_norms']


def config_with_growth(base: Path, path: Path, **hook) -> Path:
    """``base`` with a GrowthScheduleHook added to its custom hooks, written to ``path``: config only."""
    cfg = Config.fromfile(str(base))
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='scalenet_mm.GrowthScheduleHook', **hook)]
    cfg.dump(str(path))
    return path


def logged(work_dir: Path) -> str:
    return '\n'.join(p.read_text() for p in work_dir.glob('*/*.log'))


def test_a_run_resumed_across_the_switch_equals_the_uninterrupted_run_bit_for_bit(tmp_path):
    config = config_with_growth(CLASSIFICATION_DEMO, tmp_path / 'grow.py', schedule=[(0, 0.0), (1, 1.0)])
    train_with_our_tool(config, tmp_path / 'uninterrupted', '--cfg-options', *CLS_OPTIONS)
    # epoch_1.pth was saved before the switch; the resumed run switches at its first epoch
    train_with_our_tool(config, tmp_path / 'resumed', '--resume', str(tmp_path / 'uninterrupted/epoch_1.pth'),
                        '--cfg-options', *CLS_OPTIONS)
    uninterrupted, resumed = (read_checkpoint(str(tmp_path / d / 'epoch_2.pth')) for d in ('uninterrupted', 'resumed'))
    for key in ('state_dict', 'optimizer', 'param_schedulers', 'rng_state'):
        assert_same(uninterrupted[key], resumed[key], key)
    for run in ('uninterrupted', 'resumed'):
        assert 'growth 1.0 from epoch 1: active depths (2, 2, 2, 2) -> (4, 4, 4, 4)' in logged(tmp_path / run), run
    assert 'growth 0.0 from epoch 0' in logged(tmp_path / 'uninterrupted')
    assert 'growth 0.0 from' not in logged(tmp_path / 'resumed')
    assert 'growth 0.0 of the checkpoint (last trained epoch 0)' in logged(tmp_path / 'resumed')


@pytest.mark.parametrize('package, demo, options, metric', [
    ('mmdet', DETECTION_DEMO, ['model.test_cfg.rcnn.score_thr=0.0'], 'bbox_mAP: '),
    ('mmseg', SEGMENTATION_DEMO, [], 'mIoU: '),  # its EvaluateBeforeTrainHook validates at the first phase's depth
])
def test_hook_works_under_the_mm_packages_own_train_tools_by_iteration(tmp_path, package, demo, options, metric):
    module = pytest.importorskip(package)
    config = config_with_growth(demo, tmp_path / 'grow.py', schedule=[(0, 0.0), (1, 1.0)], by_epoch=False)
    output = run_two_iterations_with(Path(module.__file__).parent / '.mim/tools/train.py', config, tmp_path, *options)
    assert output.index('growth 0.0 from iteration 0') < output.index(metric)  # set before any evaluation
    assert 'growth 0.0 from iteration 0: active depths (4, 4, 4, 4) -> (2, 2, 2, 2)' in output
    assert 'growth 1.0 from iteration 1: active depths (2, 2, 2, 2) -> (4, 4, 4, 4)' in output


def test_hook_refuses_a_backbone_without_inserted_positions_before_training(tmp_path):
    cfg = classification_demo_cfg(tmp_path)
    cfg.model.backbone.depth_scale = 1
    cfg.custom_hooks = [dict(type='scalenet_mm.GrowthScheduleHook', schedule=[(0, 0.0), (1, 1.0)])]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='no inserted positions to grow into'):
        runner.train()
    assert not list(tmp_path.glob('*.pth'))


# ----------------------------------------------------------------------------------------------- the tools
def test_count_params_and_get_flops_report_the_active_depth():
    config = 'configs/demo/scalenet-swin-mini-d2x_cifar10-mini.py'

    def total(result, column):
        assert result.returncode == 0, result.stderr[-3000:]
        return float(next(line.split()[column] for line in result.stdout.splitlines() if line.startswith('total')))

    grown, half, source = (run_script('tools/analysis/count_params.py', config, '--growth', g)
                           for g in ('1', '0.5', '0'))
    assert 'growth 0.0: active depths (2, 2, 2, 2)' in source.stdout
    assert total(source, 1) < total(half, 1) < total(grown, 1)  # with multiplicity
    assert total(source, 2) == total(grown, 2)  # unique
    scale_1 = run_script('tools/analysis/count_params.py', config, '--cfg-options', 'model.backbone.depth_scale=1')
    assert total(source, 1) == total(scale_1, 1)
    flops = {g: run_script('tools/analysis/get_flops.py', config, '--shape', '32', '32', '--backbone-only',
                           '--growth', g) for g in ('0', '1')}
    plain = run_script('tools/analysis/get_flops.py', config, '--shape', '32', '32', '--backbone-only',
                       '--cfg-options', 'model.backbone.depth_scale=1')
    assert total(flops['0'], -1) == total(plain, -1) < total(flops['1'], -1)
    assert 'growth 0.0' in flops['0'].stdout
    refused = run_script('tools/analysis/get_flops.py', config, '--growth', '2')
    assert refused.returncode == 1 and 'growth=2.0 must be a number in [0, 1]' in refused.stderr
    refused = run_script('tools/analysis/count_params.py', config, '--growth', '0',
                         '--cfg-options', 'model.backbone.depth_scale=1')
    assert refused.returncode == 1 and 'no inserted positions' in refused.stderr


def test_benchmark_times_the_active_depth():
    batches = ['train_dataloader.batch_size=2', 'val_dataloader.batch_size=2']
    result = run_script('tools/analysis/benchmark.py', CLASSIFICATION_DEMO, CLASSIFICATION_DEMO, '--repeats', '1',
                        '--warmup', '0', '--batches', '1', '--device', 'cpu', '--growth', '0',
                        '--cfg-options', *batches, '--baseline-cfg-options', *batches, 'model.backbone.depth_scale=1')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'growth 0.0: active depths (2, 2, 2, 2)' in result.stdout
