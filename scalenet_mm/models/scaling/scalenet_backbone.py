"""The ScaleNet backbone contract, named: what the checkpoint code (load, export, grow, the layouts) and the
tools read of a backbone, whatever its architecture.

Both :class:`~scalenet_mm.ScaleNetSwinTransformer` and :class:`~scalenet_mm.ScaleNetVisionTransformer` satisfy
it (through :class:`~scalenet_mm.models.backbones.backbone_mixin.ScaleNetBackboneMixin`); "is this a ScaleNet
backbone?" is ``isinstance(module, ScaleNetBackbone)``, nothing else. A stock mmdet/mmseg backbone is not one.
"""
import dataclasses
from typing import Optional, Protocol, runtime_checkable

from .adapters import AdapterConfig
from .shared_positions import PositionKey, SharedPositions


@runtime_checkable
class ScaleNetBackbone(Protocol):
    """A backbone deepened by shared positions.

    Attributes:
        architecture: ``'swin'`` or ``'vit'``: which checkpoint layouts apply (``scalenet_mm.checkpoint``).
        init_cfg: None (random init) or ``dict(type='Pretrained', checkpoint=..., prefix=...)``.
        trainable: the trainable policy (``models/scaling/trainable.py``).
        unshare: every position owns its block (the untied baseline).
        adapter_cfg: the adapters, or None.
        scaled_depths: positions per scaled sequence (per Swin stage; one entry for a ViT).
        source_depths: source blocks per scaled sequence (the depths of the network it grows from).
        growth: the fraction of inserted positions that run (1: all, the default; see :meth:`set_growth`).
        active_depths: positions that run per scaled sequence at the current growth.
    """

    architecture: str
    init_cfg: Optional[dict]
    trainable: str
    unshare: bool
    adapter_cfg: Optional[AdapterConfig]
    growth: float

    @property
    def scaled_depths(self) -> tuple[int, ...]:
        ...

    @property
    def source_depths(self) -> tuple[int, ...]:
        ...

    @property
    def active_depths(self) -> tuple[int, ...]:
        ...

    def set_growth(self, fraction: float) -> None:
        """Run the original positions and the first ``floor(fraction * n + 1/2)`` of the ``n`` inserted positions
        of every scaled sequence; skip the others (``models/scaling/growth.py``)."""
        ...

    def shared_positions(self) -> dict[str, SharedPositions]:
        """The scaled sequences by state-dict key prefix (``'stages.{s}.'`` in a Swin, ``''`` in a ViT)."""
        ...

    def start_as_source(self) -> None:
        """Make every position compute its block's function (or the identity where gated)."""
        ...

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """``(layer_depth, num_layers)`` for layer-wise learning-rate decay, counting positions."""
        ...

    def extra_repr(self) -> str:
        """One line naming the depths, sharing, adapters and trainable policy (in load errors)."""
        ...


def find_position_key(backbone: ScaleNetBackbone, key: str) -> Optional[tuple[SharedPositions, PositionKey]]:
    """The sequence of shared positions that holds state-dict ``key`` of ``backbone``, and the key taken apart
    (its ``prefix`` the sequence's); None when the key is no block, per-position or layer-map tensor (patch
    embedding, Swin downsample, output norms, ...)."""
    for prefix, positions in backbone.shared_positions().items():
        if key.startswith(prefix):
            parsed = positions.parse_key(key[len(prefix):])
            if parsed is not None:
                return positions, dataclasses.replace(parsed, prefix=prefix)
    return None
