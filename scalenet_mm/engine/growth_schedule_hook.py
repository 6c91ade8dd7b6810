"""Grow inside one run: train a ScaleNet backbone at its source depth first and switch its inserted positions on
at scheduled epochs or iterations (``ScaleNetBackbone.set_growth``), from the config alone::

    custom_hooks = [dict(type='scalenet_mm.GrowthScheduleHook', schedule=[(0, 0.0), (4, 0.5), (8, 1.0)])]

The growth of every epoch (iteration) is a function of the loop counter only, so a resumed run lands in the
right phase with no state of the hook's own. Training-time validation evaluates the depth being trained; a
standalone ``test``/``val`` run evaluates the depth its checkpoint was trained at (from the checkpoint's
``meta``), so a checkpoint saved before a switch is tested as it was validated.
"""
from typing import Mapping, Optional, Sequence

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop, Runner
from torch.nn.parallel import DistributedDataParallel

from ..models.scaling.growth import check_growth, growing_backbone
from ..registry import HOOKS

DDP_FIX = "model_wrapper_cfg=dict(type='MMDistributedDataParallel', find_unused_parameters=True)"


def check_schedule(schedule: Sequence[Sequence[float]], unit: str) -> tuple[tuple[int, float], ...]:
    """``schedule`` as ``((at, growth), ...)``; ``ValueError`` naming the bad entry unless it starts at 0, ``at``
    strictly increases and growth never decreases, each growth in ``[0, 1]``."""
    if not isinstance(schedule, (list, tuple)) or not schedule:
        raise ValueError(f'schedule={schedule!r} must be a non-empty list of ({unit}, growth) pairs, e.g. '
                         '[(0, 0.0), (6, 1.0)]')
    pairs = []
    for index, entry in enumerate(schedule):
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise ValueError(f'schedule[{index}]={entry!r} must be a pair ({unit}, growth), e.g. (6, 1.0)')
        at, growth = entry
        if isinstance(at, bool) or not isinstance(at, int) or at < 0:
            raise ValueError(f'schedule[{index}]: {unit} {at!r} must be an integer >= 0 (0-based, as a param '
                             "scheduler's begin)")
        try:
            growth = check_growth(growth)
        except ValueError as error:
            raise ValueError(f'schedule[{index}]: {error}') from None
        pairs.append((at, growth))
    if pairs[0][0] != 0:
        raise ValueError(f'schedule starts at {unit} {pairs[0][0]}: start it at 0 with the growth to train at first, '
                         f'e.g. [(0, 0.0), ({pairs[0][0]}, {pairs[0][1]})]')
    for (at, growth), (next_at, next_growth) in zip(pairs, pairs[1:]):
        if next_at <= at:
            raise ValueError(f'schedule {unit}s must increase: {next_at} follows {at}')
        if next_growth < growth:
            raise ValueError(f'schedule growth must not decrease: {next_growth} at {unit} {next_at} follows {growth}; '
                             'a position switched on keeps running')
    return tuple(pairs)


@HOOKS.register_module()
class GrowthScheduleHook(Hook):
    """Set the backbone's growth (``model.backbone.set_growth``) before every training epoch or iteration.

    Args:
        schedule: ``[(at, growth), ...]``: from epoch (``by_epoch``) or iteration ``at`` on (0-based, as a
            param scheduler's ``begin``: ``(6, 1.0)`` makes the 7th epoch the first at full depth) the backbone
            runs at ``growth``: the original positions and the first ``floor(growth * n + 1/2)`` of the ``n``
            inserted positions of each stage. Starts at 0; ``at`` increases, growth never decreases.
            ``[(0, 0.0), (6, 1.0)]``: source depth, then full; ``[(0, 0.0), (4, 0.5), (8, 1.0)]`` with
            ``depth_scale=2``: 1x -> 1.5x -> 2x.
        by_epoch: ``at`` counts epochs (an epoch-based train loop) or iterations (any loop).

    Refused before training: a schedule as above, a model whose ``backbone`` is no ScaleNet backbone with
    inserted positions, ``by_epoch=True`` in an iteration-based loop, and a DDP run without
    ``find_unused_parameters=True`` while some phase skips positions.
    """
    priority = 'ABOVE_NORMAL'  # before hooks that evaluate in before_train (EvaluateBeforeTrainHook)

    def __init__(self, schedule: Sequence[Sequence[float]], by_epoch: bool = True) -> None:
        if not isinstance(by_epoch, bool):
            raise ValueError(f'by_epoch={by_epoch!r} must be True (schedule in epochs) or False (in iterations)')
        self.by_epoch = by_epoch
        self.unit = 'epoch' if by_epoch else 'iteration'
        self.schedule = check_schedule(schedule, self.unit)

    def growth_at(self, step: int) -> float:
        """The growth of epoch (iteration) ``step`` (0-based)."""
        return [growth for at, growth in self.schedule if at <= step][-1]

    def checkpoint_step(self, meta: Mapping) -> Optional[int]:
        """The last epoch (iteration) a checkpoint with ``meta`` trained (0-based); None without that count."""
        trained = meta.get('epoch' if self.by_epoch else 'iter')
        return None if trained is None else max(trained - 1, 0)

    def before_run(self, runner: Runner) -> None:
        growing_backbone(runner.model)

    def before_train(self, runner: Runner) -> None:
        if self.by_epoch and isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError('GrowthScheduleHook(by_epoch=True) counts epochs, but the train loop is iteration-based '
                             '(its epoch never advances): use by_epoch=False with the schedule in iterations')
        model = runner.model
        if isinstance(model, DistributedDataParallel) and not model.find_unused_parameters and \
                self.schedule[0][1] < 1:
            raise ValueError('GrowthScheduleHook skips inserted positions, whose parameters then get no gradient, '
                             f'which DDP refuses unless told: set {DDP_FIX} in the config')
        end = runner.max_epochs if self.by_epoch else runner.max_iters
        if self.schedule[-1][0] >= end:
            runner.logger.warning(f'growth schedule {self.schedule}: the run ends before {self.unit} '
                                  f'{self.schedule[-1][0]} (max {end}), so its last phase never trains')
        self.apply(runner, runner.epoch if self.by_epoch else runner.iter)

    def before_train_epoch(self, runner: Runner) -> None:
        if self.by_epoch:
            self.apply(runner, runner.epoch)

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch: Optional[dict] = None) -> None:
        if not self.by_epoch:
            self.apply(runner, runner.iter)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Evaluate a checkpoint at the growth of the last epoch (iteration) it trained; training resets the
        growth from the loop counter in ``before_train``."""
        last = self.checkpoint_step(checkpoint.get('meta', {}))
        if last is None:
            runner.logger.warning(f'the checkpoint has no meta {self.unit} count: the backbone runs at growth '
                                  f'{growing_backbone(runner.model).growth}')
            return
        self.apply(runner, last, f'of the checkpoint (last trained {self.unit} {last})')

    def apply(self, runner: Runner, step: int, when: str = '') -> None:
        """Set the growth of ``step``; log a change (``growth G {when}``, by default from ``step``)."""
        backbone = growing_backbone(runner.model)
        growth = self.growth_at(step)
        if growth != backbone.growth:
            before = backbone.active_depths
            backbone.set_growth(growth)
            runner.logger.info(f'growth {growth} {when or f"from {self.unit} {step}"}: active depths {before} -> '
                               f'{backbone.active_depths} of {backbone.scaled_depths}')


def config_growth_schedule(cfg: Config) -> Optional[GrowthScheduleHook]:
    """The ``GrowthScheduleHook`` among the config's ``custom_hooks``, built; None when it has none."""
    for hook_cfg in cfg.get('custom_hooks') or []:
        hook_type = hook_cfg['type']
        name = hook_type.__name__ if isinstance(hook_type, type) else str(hook_type).rsplit('.', 1)[-1]
        if name == GrowthScheduleHook.__name__:
            options = {key: value for key, value in hook_cfg.items() if key not in ('type', 'priority')}
            return GrowthScheduleHook(**options)
    return None
