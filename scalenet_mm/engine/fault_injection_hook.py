"""Faults on purpose: kill the training process, or fill the disk, at a chosen point of a run.

For testing that a run loses nothing (``tools/analysis/inject_faults.py``, ``tests/test_fault_injection.py``):
add ``dict(type='scalenet_mm.FaultInjectionHook', point=..., at=N)`` to ``custom_hooks`` and train.

Points (``at`` counts from 1, in this process):

- ``between_iterations``: SIGKILL after the N-th training iteration;
- ``validation``: SIGKILL inside the N-th validation, after its first batch;
- ``checkpoint_write``: SIGKILL half-way through writing the N-th checkpoint. A process killed there leaves
  the first half of the file on disk where its writer was writing: the temporary file of
  :class:`~scalenet_mm.engine.atomic_local_backend.AtomicLocalBackend`, or the checkpoint itself for
  mmengine's ``LocalBackend``. The hook writes exactly that, then kills the process;
- ``disk_full``: the N-th checkpoint write fails as a full disk fails it: ``AtomicLocalBackend`` runs and its
  ``fsync`` raises ``OSError(ENOSPC)``; mmengine's ``LocalBackend`` (no fsync) is left with half the file
  written and gets ``ENOSPC`` from the write.

``rank`` picks the process that fails in a distributed run (the others are stopped by the launcher, as when a
node dies). SIGKILL cannot be caught: nothing of the run's own clean-up runs, as on a pre-empted node.
"""
import errno
import os
import signal
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from mmengine.dist import get_rank
from mmengine.fileio import get_file_backend
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import Runner

from ..registry import HOOKS
from .atomic_local_backend import AtomicLocalBackend, partial_path

FAULT_POINTS = ('between_iterations', 'validation', 'checkpoint_write', 'disk_full')


def kill_this_process() -> None:
    """SIGKILL, as the kernel's OOM killer or a cluster's pre-emption does it."""
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class FaultInjectionHook(Hook):
    """Inject ``point`` at its ``at``-th occurrence on rank ``rank`` (module docstring)."""
    priority = 'VERY_HIGH'

    def __init__(self, point: str, at: int, rank: int = 0) -> None:
        if point not in FAULT_POINTS:
            raise ValueError(f'point={point!r} is not one of {FAULT_POINTS}')
        if not isinstance(at, int) or at < 1:
            raise ValueError(f'at={at!r} must be an int >= 1 (the occurrence of {point!r} to fail, counted from 1)')
        self.point, self.at, self.rank = point, at, rank
        self.seen = 0
        self._validation_armed = False

    def _due(self, point: str) -> bool:
        """Count an occurrence of ``point``; True when it is the one to fail on this rank."""
        if point != self.point or get_rank() != self.rank:
            return False
        self.seen += 1
        return self.seen == self.at

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        if self._due('between_iterations'):
            kill_this_process()

    def before_val_epoch(self, runner: Runner) -> None:
        self._validation_armed = self._due('validation')

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        if self._validation_armed:
            kill_this_process()

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        if self.point in ('checkpoint_write', 'disk_full') and self._due(self.point):
            backend_class = self._checkpoint_backend_class(runner)
            backend_class.put = self._failing_put(backend_class)  # for the write that follows, which restores it

    @staticmethod
    def _checkpoint_backend_class(runner: Runner) -> type:
        """The class of the file backend that the checkpoint hook writes with."""
        hooks = [hook for hook in runner.hooks if isinstance(hook, CheckpointHook)]
        if len(hooks) != 1:
            raise ValueError(f'FaultInjectionHook needs exactly one checkpoint hook in the run, found {len(hooks)}')
        return type(get_file_backend(hooks[0].out_dir, backend_args=hooks[0].backend_args))

    def _failing_put(self, backend_class: type) -> Any:
        """A one-shot ``put`` for ``backend_class`` that fails the way ``self.point`` fails a real write."""
        original = backend_class.put
        atomic = issubclass(backend_class, AtomicLocalBackend)

        def put(backend: Any, obj: bytes, filepath: str) -> None:
            backend_class.put = original  # one write only
            filepath = str(filepath)
            if self.point == 'disk_full' and atomic:  # the real writer runs, and its fsync finds the disk full
                with _full_disk_at_next_fsync():
                    original(backend, obj, filepath)
                return
            with open(partial_path(filepath) if atomic else filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            if self.point == 'checkpoint_write':
                kill_this_process()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filepath)  # mmengine's writer: no clean-up
        return put


@contextmanager
def _full_disk_at_next_fsync() -> Iterator[None]:
    """``os.fsync`` raises ``ENOSPC`` once, as it does when the data written cannot be stored."""
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        os.fsync = real_fsync
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    os.fsync = fsync
    try:
        yield
    finally:
        os.fsync = real_fsync
