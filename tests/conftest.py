"""Shared helpers for the tests: small architectures and an independent untied copy of a model."""
import re

import pytest
import torch

import scalenet_mm  # noqa: F401  (registers modules, safe-loading allow-list)
from scalenet_mm.models.backbones.scalenet_swin import ScaleNetSwinTransformer

# a small Swin for fast tests: 4 stages of depth 2, width 16 -> 128
SMALL_ARCH = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


def perturb_(model: torch.nn.Module, std: float = 0.05) -> torch.nn.Module:
    """Give every parameter (zero-initialised adapter ``up`` and norms included) non-trivial values."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'norm' in name:
                param.add_(torch.randn_like(param) * 0.1)
            else:
                param.normal_(0, std)
    return model


def build(**kwargs) -> ScaleNetSwinTransformer:
    """A small ScaleNet Swin (drop-path off so outputs are deterministic), randomly initialised."""
    kwargs.setdefault('arch', SMALL_ARCH)
    kwargs.setdefault('drop_path_rate', 0.0)
    kwargs.setdefault('window_size', 4)
    model = ScaleNetSwinTransformer(**kwargs)
    model.init_weights()
    return model


def untied_copy(model: ScaleNetSwinTransformer, **kwargs) -> ScaleNetSwinTransformer:
    """The same function with every position owning a copy of its block (``unshare=True``)."""
    untied = ScaleNetSwinTransformer(unshare=True, **kwargs)
    shared_state = model.state_dict()
    state = {}
    for key, value in untied.state_dict().items():
        match = re.match(r'stages\.(\d+)\.blocks\.(\d+)\.(.*)', key)
        if match:
            stage, position, rest = int(match[1]), int(match[2]), match[3]
            block = model.stages[stage].block_of_position[position]
            state[key] = shared_state[f'stages.{stage}.blocks.{block}.{rest}'].clone()
        elif key.endswith('layer_map'):
            state[key] = value
        else:
            state[key] = shared_state[key].clone()
    untied.load_state_dict(state, strict=True)
    return untied
