"""Evaluate once before the first training iteration, so a run logs its starting metric."""
from mmengine.hooks import Hook
from mmengine.runner import Runner

from ..registry import HOOKS


@HOOKS.register_module()
class EvaluateBeforeTrainHook(Hook):
    """Run the validation loop in ``before_train`` (weights initialised or loaded, nothing trained yet).

    The metrics go to the log like any validation (``Iter(val)`` at iteration 0) and are kept in
    ``runner.message_hub`` under ``before_train/<metric>``.
    """
    priority = 'LOWEST'

    def before_train(self, runner: Runner) -> None:
        if runner.val_loop is None:
            raise ValueError('EvaluateBeforeTrainHook needs val_dataloader, val_evaluator and val_cfg in the config')
        metrics = runner.val_loop.run()
        for name, value in metrics.items():
            runner.message_hub.update_info(f'before_train/{name}', value)
