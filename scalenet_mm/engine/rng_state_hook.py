"""Random-number-generator state through checkpoints, so a resumed run draws what the uninterrupted run draws.

mmengine seeds the generators when a Runner starts but does not save their state: a run resumed at epoch N
re-seeds and then draws other augmentations, Mixup coefficients and drop-path masks than the run that went
on. This hook stores the Python, NumPy and torch (CPU and CUDA) generator states in every checkpoint
(``checkpoint['rng_state']``: a list, one entry per rank, of plain tensors and ints that safe loading reads)
and restores them when a run resumes. Validation runs between a snapshot and a restore of the states, so
evaluating (or not, or at another interval) never changes the training draws.

In a distributed run every rank's states are gathered at the end of each training epoch and saved as a
list; each rank restores its own. (Checkpoints are written by rank 0 only, so a checkpoint saved at another
point holds rank 0's state, which every rank then restores.)

Exact (tested bit for bit) for epoch-based loops when the config fixes ``randomness.seed`` (otherwise the
sampler is seeded afresh) and data workers are not persistent (``num_workers=0`` or
``persistent_workers=False``: persistent workers carry generator states that no checkpoint holds).
Iteration-based loops re-run the data pipeline of the skipped iterations when they resume (mmengine
advances the dataloader), which consumes random draws: there the resumed run differs in its augmentation.
"""
import random
from typing import Any, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.runner import Runner

from ..registry import HOOKS


def capture_rng_state() -> dict[str, Any]:
    """The global generator states as ints, tuples and tensors (no NumPy objects: safe to load)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(python=random.getstate(), torch=torch.get_rng_state(),
                 numpy=(kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)))
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set the global generators to a state from :func:`capture_rng_state` (its tensors may sit on a GPU:
    ``Runner.resume`` maps checkpoints to the current device)."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state['torch'].cpu())
    kind, keys, pos, has_gauss, cached = state['numpy']
    np.random.set_state((kind, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save generator states in checkpoints, restore them on resume, keep validation out of training draws."""
    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._loaded: Optional[list[dict[str, Any]]] = None
        self._before_val: Optional[dict[str, Any]] = None
        self._epoch_end: Optional[tuple[int, list[dict[str, Any]]]] = None

    def after_train_epoch(self, runner: Runner) -> None:
        # every rank takes part (checkpoints are saved by rank 0 only, later in this same call)
        state = capture_rng_state()
        states = all_gather_object(state) if get_world_size() > 1 else [state]
        self._epoch_end = (runner.iter, states)

    def before_save_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        at_epoch_end = self._epoch_end is not None and self._epoch_end[0] == runner.iter
        checkpoint['rng_state'] = self._epoch_end[1] if at_epoch_end else [capture_rng_state()]

    def after_load_checkpoint(self, runner: Runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get('rng_state')

    def before_train(self, runner: Runner) -> None:
        # a resume (not a load_from) puts the loop past its start; restore the states it saved
        if self._loaded and (runner.iter > 0 or runner.epoch > 0):
            rank = get_rank()
            restore_rng_state(self._loaded[rank] if len(self._loaded) == get_world_size() else self._loaded[0])
        self._loaded = None

    def before_val(self, runner: Runner) -> None:
        self._before_val = capture_rng_state()

    def after_val(self, runner: Runner) -> None:
        if self._before_val is not None:
            restore_rng_state(self._before_val)
            self._before_val = None
