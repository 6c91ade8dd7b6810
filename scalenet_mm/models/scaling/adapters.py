"""Per-position adapters that let positions sharing a block compute different functions.

For a target linear ``W`` of the block (Swin or ViT: ``qkv``, ``proj``, ``fc1``, ``fc2``) a position runs, the
position's adapter adds a low-rank branch:

- ``'parallel'``: ``y = W x + scale * up(GELU(down(x)))`` (the ScaleNet default);
- ``'lora'``:     ``y = W x + scale * up(down(x))`` (linear, so it merges into ``W`` for export).

``down``: ``C_in -> dim`` and ``up``: ``dim -> C_out``, both without bias; ``up`` starts at zero so a
fresh adapter changes nothing. Inputs and outputs are ``(..., C)`` tensors.
"""
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

ADAPTER_TYPES = ('parallel', 'lora')
ADAPTER_TARGETS = ('fc1', 'fc2', 'qkv', 'proj')
ADAPTER_POSITIONS = ('all', 'inserted')
ADAPTER_KEYS = ('type', 'targets', 'dim', 'scale', 'positions')


@dataclass(frozen=True)
class AdapterConfig:
    """A validated ``adapter=dict(...)`` request."""
    type: str = 'parallel'
    targets: tuple[str, ...] = ('fc1', 'fc2')
    dim: int = 16
    scale: float = 1.0
    positions: str = 'all'


def parse_adapter_config(adapter: Optional[dict[str, Any]]) -> Optional[AdapterConfig]:
    """Validate the backbone's ``adapter`` argument; ``None`` means sharing without adapters."""
    if adapter is None:
        return None
    if not isinstance(adapter, dict):
        raise ValueError(f'adapter={adapter!r} must be None or a dict with keys among {ADAPTER_KEYS}')
    unknown = sorted(set(adapter) - set(ADAPTER_KEYS))
    if unknown:
        raise ValueError(f'adapter has unknown key(s) {unknown}; allowed keys: {ADAPTER_KEYS}')
    config = AdapterConfig(**adapter)
    if config.type not in ADAPTER_TYPES:
        raise ValueError(f"adapter type={config.type!r} is not known; use one of {ADAPTER_TYPES}")
    targets = (config.targets,) if isinstance(config.targets, str) else config.targets
    bad = [t for t in targets if t not in ADAPTER_TARGETS]
    if bad or not targets:
        raise ValueError(f'adapter targets {list(bad) or list(targets)} match no linear of a transformer block; '
                         f'choose among {ADAPTER_TARGETS}')
    if len(set(targets)) != len(targets):
        raise ValueError(f'adapter targets {list(targets)} name a linear twice')
    if not isinstance(config.dim, int) or isinstance(config.dim, bool) or config.dim <= 0:
        raise ValueError(f'adapter dim={config.dim!r} must be a positive integer')
    if not isinstance(config.scale, (int, float)):
        raise ValueError(f'adapter scale={config.scale!r} must be a number')
    if config.positions not in ADAPTER_POSITIONS:
        raise ValueError(f'adapter positions={config.positions!r} is not known; use one of {ADAPTER_POSITIONS}')
    return AdapterConfig(config.type, tuple(targets), config.dim, float(config.scale), config.positions)


class LowRankAdapter(nn.Module):
    """``scale * up(act(down(x)))`` with ``act`` GELU (``'parallel'``) or identity (``'lora'``).

    Args:
        in_features: ``C_in`` of the target linear.
        out_features: ``C_out`` of the target linear.
        dim: bottleneck width ``r``.
        scale: multiplier of the branch.
        nonlinear: GELU between ``down`` and ``up`` when True.
    """

    def __init__(self, in_features: int, out_features: int, dim: int, scale: float, nonlinear: bool) -> None:
        super().__init__()
        self.down = nn.Linear(in_features, dim, bias=False)
        self.up = nn.Linear(dim, out_features, bias=False)
        self.scale = scale
        self.nonlinear = nonlinear
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``down`` as a fresh ``nn.Linear``; ``up`` zero, so the adapter starts as the identity change."""
        self.down.reset_parameters()
        nn.init.zeros_(self.up.weight)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., C_in) -> (..., dim)``: ``act(down(x))``."""
        hidden = self.down(x)
        return F.gelu(hidden) if self.nonlinear else hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., C_in) -> (..., C_out)``: the adapter branch alone, ``scale * up(act(down(x)))``."""
        return self.up(self.hidden(x)) * self.scale

    def plus_linear(self, weight: torch.Tensor, bias: Optional[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """``F.linear(x, weight, bias) + forward(x)`` for ``x: (..., C_in)``, returned as ``(..., C_out)``.

        The branch's up projection writes the output first (with the linear's bias, as ``F.linear`` would
        copy it), then the target's GEMM accumulates into it in place: no extra pass over the full-width
        output. The measurements behind this choice, and the formulations tried against it, are in
        ``docs/speed.md`` (adapter overhead).
        """
        flat = x.reshape(-1, x.shape[-1])
        hidden = self.hidden(flat)
        if bias is None:
            out = torch.mm(hidden, self.up.weight.t() * self.scale)
        else:
            out = torch.addmm(bias, hidden, self.up.weight.t(), alpha=self.scale)
        # under autocast ``out`` has the autocast dtype, but an in-place op does not cast its operands
        flat, weight = flat.to(out.dtype), weight.to(out.dtype)
        return out.addmm_(flat, weight.t()).view(*x.shape[:-1], out.shape[-1])

    def merged_delta(self) -> torch.Tensor:
        """``scale * W_up @ W_down``, shape ``(C_out, C_in)``: the weight change of a linear adapter."""
        if self.nonlinear:
            raise ValueError('a parallel adapter has a GELU between down and up, so it is not a linear map '
                             "and cannot be merged into the shared weight; use adapter type='lora' to export")
        return self.scale * self.up.weight @ self.down.weight


def linear_with_adapter(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                        adapter: Optional[LowRankAdapter]) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` plus the position's adapter branch when it has one.

    ``x (..., C_in)``, ``weight (C_out, C_in)``, ``bias (C_out,)`` or None -> ``(..., C_out)``.
    """
    return F.linear(x, weight, bias) if adapter is None else adapter.plus_linear(weight, bias, x)


def block_linear_shapes(embed_dims: int, hidden_dims: int) -> dict[str, tuple[int, int]]:
    """``(C_in, C_out)`` of every adaptable linear of a transformer block (Swin or ViT) of width ``embed_dims``
    and MLP ``hidden_dims``."""
    return {'qkv': (embed_dims, 3 * embed_dims), 'proj': (embed_dims, embed_dims),
            'fc1': (embed_dims, hidden_dims), 'fc2': (hidden_dims, embed_dims)}


def build_position_adapters(config: AdapterConfig, embed_dims: int, hidden_dims: int) -> nn.ModuleDict:
    """The adapters of one position: ``{target: LowRankAdapter}``."""
    shapes = block_linear_shapes(embed_dims, hidden_dims)
    return nn.ModuleDict({
        target: LowRankAdapter(*shapes[target], config.dim, config.scale, nonlinear=config.type == 'parallel')
        for target in config.targets})
