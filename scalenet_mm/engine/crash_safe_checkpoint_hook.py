"""mmengine's ``CheckpointHook``, made crash-safe: no kill, power loss or full disk leaves the run without a
readable checkpoint, and auto-resume never stops on a bad file.

What changes against ``mmengine.hooks.CheckpointHook`` (every other argument and behaviour is the same):

- every checkpoint and ``last_checkpoint`` is written through
  :class:`~scalenet_mm.engine.atomic_local_backend.AtomicLocalBackend` (temporary file, fsync, rename, fsync
  of the folder), so a reader sees the previous file or the whole new one;
- the checkpoint that ``max_keep_ckpts`` retires, and the previous best checkpoint, are removed only *after*
  the new checkpoint (and ``last_checkpoint``) are on disk; mmengine removes them first, so a crash during the
  save could leave none;
- ``before_run``: an auto-resume (``resume=True`` without ``load_from``, what ``--resume`` without a file
  sets) whose ``last_checkpoint`` names a missing, truncated or unreadable file resumes from the newest
  readable checkpoint instead, with a warning naming both files, or starts afresh with a warning when none is
  readable; a named file (``--resume PATH``) that is unreadable stops the run with the reason, never falls back;
- ``before_train``: temporary files of writes that a killed process never finished are removed (logged).

Delta checkpoints (:mod:`scalenet_mm.checkpoint.delta`): with ``delta=True`` every checkpoint leaves out the frozen
weights that the backbone's base file (``init_cfg``) gives back, planned and checked in ``before_train`` (a model
with nothing frozen, no local base, or frozen weights that differ from the base is refused there). Whatever
``delta`` says, a delta checkpoint that the runner loads (``resume``, ``load_from``, tools/test.py) is completed to
the full state dict in ``after_load_checkpoint``, from its recorded base or ``delta_base`` (a moved copy with the
same SHA-256).
"""
import logging
import os.path as osp
from typing import Any, Optional

from mmengine.dist import broadcast_object_list, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from ..checkpoint.delta import DeltaPlan, complete_delta, frozen_parameter_keys, is_delta, make_delta, plan_delta
from ..checkpoint.resume_target import choose_auto_resume, unreadable_reason
from ..registry import HOOKS
from .atomic_local_backend import BACKEND_NAME, leftover_partial_files


class _RemovalsAfterwards:
    """A file backend whose ``remove`` is only recorded (``pending``); everything else is the wrapped one's."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.pending: list[str] = []

    def remove(self, filepath: str) -> None:
        self.pending.append(filepath)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


@HOOKS.register_module()
class CrashSafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` with atomic saves, removal after save and a resume that falls back (module docstring).

    Takes ``CheckpointHook``'s arguments; ``backend_args`` and ``file_client_args`` are set by this hook
    (local files, written atomically), so passing them is an error.

    Args:
        delta: save delta checkpoints (module docstring); full checkpoints by default.
        delta_base: where the base file of a delta checkpoint being loaded is, when it moved from the path the
            checkpoint records (its size and SHA-256 must still match).
    """

    def __init__(self, *args: Any, backend_args: Optional[dict] = None, file_client_args: Optional[dict] = None,
                 delta: bool = False, delta_base: Optional[str] = None, **kwargs: Any) -> None:
        if backend_args not in (None, dict(backend=BACKEND_NAME)) or file_client_args is not None:
            raise ValueError(f'CrashSafeCheckpointHook writes local files atomically and sets its own backend; got '
                             f'backend_args={backend_args!r}, file_client_args={file_client_args!r}. For another '
                             'storage backend use mmengine\'s CheckpointHook.')
        super().__init__(*args, backend_args=dict(backend=BACKEND_NAME), **kwargs)
        if self.out_dir is not None and '://' in str(self.out_dir):
            raise ValueError(f'CrashSafeCheckpointHook writes local files; out_dir={self.out_dir!r} is remote. Use '
                             'mmengine\'s CheckpointHook for remote storage.')
        if not isinstance(delta, bool):
            raise TypeError(f'CrashSafeCheckpointHook(delta={delta!r}): delta is True or False')
        self.delta, self.delta_base = delta, delta_base
        self._delta_plan: Optional[DeltaPlan] = None
        self._delta_frozen: list[str] = []

    def _checkpoint_folder(self, runner: Runner) -> str:
        """Where the checkpoints go: ``out_dir`` as ``CheckpointHook.before_train`` resolves it."""
        if self.out_dir is None:
            return runner.work_dir
        return self.out_dir if self.out_dir == runner.work_dir else \
            osp.join(self.out_dir, osp.basename(runner.work_dir.rstrip(osp.sep)))

    def before_run(self, runner: Runner) -> None:
        """Check the resume request, and replace an auto-resume's unreadable target (module docstring)."""
        if not runner._resume:  # the Runner's own request (``resume``/``load_from`` of the config)
            return
        decision = [None, None, None]
        if is_main_process():
            if runner._load_from is not None:
                problem = unreadable_reason(str(runner._load_from))
                decision = ['error', f'cannot resume from {runner._load_from}: {problem}. Pass a readable '
                                     'checkpoint, or --resume without a file to resume from the newest readable '
                                     'checkpoint of the work dir.', None] if problem else ['named', None, None]
            else:
                choice = choose_auto_resume(runner.work_dir, self._checkpoint_folder(runner), self.filename_tmpl)
                decision = ['auto', choice.warning, choice.path]
        broadcast_object_list(decision)
        kind, message, path = decision
        if kind == 'error':
            raise ValueError(message)
        if message:
            print_log(message, logger='current', level=logging.WARNING)
        if kind == 'auto':
            if path is None:
                runner._resume = False
            else:
                runner._load_from = path

    def before_train(self, runner: Runner) -> None:
        if self.delta:
            self._plan_delta(runner)
        super().before_train(runner)
        if is_main_process():
            for path in leftover_partial_files(self.out_dir):
                self.file_backend.remove(path)
                print_log(f'removed {path}: the temporary file of a checkpoint write that never finished (the process '
                          'was killed); the checkpoints themselves are complete', logger='current',
                          level=logging.WARNING)

    def _save_checkpoint_with_step(self, runner: Runner, step: int, meta: dict) -> None:
        """mmengine's, reordered: save the checkpoint, then point ``last_checkpoint`` at it, then remove the
        checkpoint that ``max_keep_ckpts`` retires."""
        retired = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                retired = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        filename = self.filename_tmpl.format(step)
        previous = self.last_ckpt or runner.message_hub.get_info('last_ckpt')  # a resumed run's: in the message hub
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(self.out_dir, filename, self.file_client_args,
                                   save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
                                   meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except OSError as error:
            kept = (f'the previous checkpoint {previous} is intact and last_checkpoint still names it'
                    if previous else 'no earlier checkpoint of this run exists')
            raise OSError(error.errno, f'saving checkpoint {filename} failed: {error.strerror}; {kept}. Free space '
                                       '(or fix the cause) and resume with --resume.') from error
        if not is_main_process():
            return
        self.file_backend.put_text(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
        if retired is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(retired))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by DeepSpeed are folders
                self.file_backend.rmtree(path)

    def _save_best_checkpoint(self, runner: Runner, metrics: dict) -> None:
        """mmengine's, with the previous best checkpoint (and any retired one) removed after the new one is saved."""
        if not self.save_best:
            return
        backend = self.file_backend
        self.file_backend = deferred = _RemovalsAfterwards(backend)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        kept = {self.last_ckpt, *(self.best_ckpt_path_dict.values() if len(self.key_indicators) > 1
                                  else [self.best_ckpt_path])}
        for path in deferred.pending:
            if path not in kept:  # a new best saved under the old best's name replaced it already
                backend.remove(path)

    # ------------------------------------------------------------------ delta checkpoints
    @staticmethod
    def _model(runner: Runner) -> Any:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def _plan_delta(self, runner: Runner) -> None:
        """Plan (and check) what the delta checkpoints leave out, for the model's weights as loaded now."""
        model = self._model(runner)
        self._delta_plan = plan_delta(model)
        self._delta_frozen = frozen_parameter_keys(model)
        print_log(self._delta_plan.summary(), logger='current')

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """With ``delta=True``: leave the frozen weights the base gives out of ``checkpoint``."""
        if not self.delta:
            return
        if self._delta_plan is None or frozen_parameter_keys(self._model(runner)) != self._delta_frozen:
            self._plan_delta(runner)  # saved before training, or the trainable set changed since
        make_delta(checkpoint, self._delta_plan)

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        """Complete a delta checkpoint to the model's full state dict (strict: every key, nothing else)."""
        if is_delta(checkpoint):
            name = str(runner._load_from or 'the loaded checkpoint')
            plan = complete_delta(self._model(runner), checkpoint, name, self.delta_base)
            print_log(f'{name}: a delta checkpoint, completed with {len(plan.keys)} frozen tensors from its base '
                      f'{self.delta_base or plan.base.path} (sha256 checked)', logger='current')
