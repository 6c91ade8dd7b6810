"""Which parameters of a scaled backbone train, and how a grown model starts as its source network."""
import torch.nn as nn

from .adapters import LowRankAdapter
from .shared_positions import shared_position_layers

TRAINABLE_POLICIES = ('all', 'adapters_norms', 'adapters')


def check_trainable(trainable: str, has_adapters: bool) -> None:
    """``ValueError`` for an unknown policy or one that would train nothing."""
    if trainable not in TRAINABLE_POLICIES:
        raise ValueError(f'trainable={trainable!r} is not known; use one of {TRAINABLE_POLICIES}')
    if trainable == 'adapters' and not has_adapters:
        raise ValueError("trainable='adapters' needs adapters, but adapter=None: nothing would train")


def apply_trainable_policy(module: nn.Module, trainable: str) -> None:
    """Set ``requires_grad`` of every parameter of ``module``: all, or adapters and gates (+ LayerNorms)."""
    for param in module.parameters():
        param.requires_grad = trainable == 'all'
    if trainable == 'all':
        return
    train_types: tuple[type, ...] = (LowRankAdapter,)
    if trainable == 'adapters_norms':
        train_types += (nn.LayerNorm,)
    for sub in module.modules():
        if isinstance(sub, train_types):
            for param in sub.parameters():
                param.requires_grad = True
    for positions in shared_position_layers(module):
        for gate in (positions.gates.values() if positions.gates is not None else ()):
            gate.requires_grad = True


def start_as_source(module: nn.Module) -> None:
    """Zero every adapter's ``up`` and every gate, and copy the blocks' norms into per-position norms, so every
    position computes its block's function, or the identity where it is gated (after a random init or a
    source load, whatever ran before)."""
    for sub in module.modules():
        if isinstance(sub, LowRankAdapter):
            sub.reset_parameters()
    for positions in shared_position_layers(module):
        positions.copy_norms_from_blocks()
        positions.close_gates()
