"""Check that every rank of a distributed run holds the same weights (DDP keeps them equal; a bug, a frozen
parameter that a rank updated, or a tie broken on one rank would not)."""
import hashlib

import torch
import torch.nn as nn
from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from ..registry import HOOKS


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of every parameter's name, dtype, shape and bytes (buffers excluded: per-process BN statistics
    legitimately differ between ranks)."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
        tensor = param.detach().cpu().contiguous()
        digest.update(f'{name}|{tensor.dtype}|{tuple(tensor.shape)}'.encode())
        digest.update(tensor.view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@HOOKS.register_module()
class RankConsistencyHook(Hook):
    """After training (and every ``interval`` iterations when > 0) gather each rank's :func:`weights_digest`,
    log them (``weights digest per rank at iteration N: [...]``) and raise if they differ."""
    priority = 'LOWEST'

    def __init__(self, interval: int = 0) -> None:
        if interval < 0:
            raise ValueError(f'interval={interval} must be >= 0 (0: only after training)')
        self.interval = interval

    def after_train_iter(self, runner: Runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.interval and self.every_n_train_iters(runner, self.interval):
            self.check(runner)

    def after_train(self, runner: Runner) -> None:
        self.check(runner)

    def check(self, runner: Runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        digests = all_gather_object(weights_digest(model))
        runner.logger.info(f'weights digest per rank at iteration {runner.iter}: {digests}')
        if len(set(digests)) > 1:
            raise RuntimeError(f'ranks hold different weights at iteration {runner.iter} '
                               f'(world size {get_world_size()}): digests {digests}')
