"""What the checkpoint code knows about one architecture's files: :class:`BackboneLayout`.

Each architecture (``swin_layouts.SwinLayout``, ``vit_layouts.ViTLayout``) recognises its layouts, converts
them to the mm keys our backbones use (pure functions), and says which tensors a strict load may resize,
keep at their initialisation or skip. The loader and exporter read backbones only through this and the
backbone contract (:class:`~scalenet_mm.models.scaling.scalenet_backbone.ScaleNetBackbone`), never through a
backbone class; per-position key names through :func:`~scalenet_mm.models.scaling.shared_positions.parse_position_key`.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Mapping, Optional

import torch

from ..models.scaling.scalenet_backbone import ScaleNetBackbone
from ..models.scaling.shared_positions import LAYER_MAP, parse_position_key

StateDict = Mapping[str, torch.Tensor]


@dataclass
class ConvertedBackbone:
    """A backbone state dict in mm keys and what the conversion did.

    Attributes:
        architecture: ``'swin'`` or ``'vit'``.
        format: the detected layout (one of the architecture's ``formats``).
        state: mm-keyed tensors.
        skipped: checkpoint key -> why it has no place in a backbone.
        renamed: checkpoint key -> mm key, for moves beyond the systematic renaming.
        rename_note: why those keys were moved.
    """
    architecture: str
    format: str
    state: 'OrderedDict[str, torch.Tensor]'
    skipped: dict[str, str]
    renamed: dict[str, str]
    rename_note: str = ''


class BackboneLayout:
    """Base class: the per-architecture rules of the strict loader and the exporter."""

    architecture = ''
    formats: tuple[str, ...] = ()
    # buffers that the model recomputes: never loaded from a checkpoint
    recomputed_buffers: tuple[str, ...] = ()
    # adapter target -> weight key inside a block (export merges LoRA deltas there)
    adapter_target_keys: dict[str, str] = {}
    # the last linear of each residual branch inside a block (export scales them by a position's gate)
    branch_output_prefixes: tuple[str, ...] = ()

    def matches(self, state: StateDict) -> bool:
        """Whether the keys are this architecture's (any of its layouts)."""
        raise NotImplementedError

    def detect(self, state: StateDict) -> str:
        """The layout name (one of ``formats``); ``ValueError`` if none fits."""
        raise NotImplementedError

    def convert(self, state: StateDict) -> ConvertedBackbone:
        """Detect the layout and convert to mm keys, with what was skipped and renamed."""
        raise NotImplementedError

    def kept_at_init(self, model: ScaleNetBackbone, key: str, converted: StateDict) -> Optional[str]:
        """Why model ``key``, absent from the checkpoint, may keep its initialisation; None: it is missing."""
        return None

    def skip_reason(self, model: ScaleNetBackbone, key: str) -> Optional[str]:
        """Why checkpoint ``key`` (mm keys) has no place in this model and is skipped; None: it must load."""
        return None

    def fit(self, model: ScaleNetBackbone, key: str, value: torch.Tensor, current: torch.Tensor
            ) -> Optional[tuple[torch.Tensor, str]]:
        """A tensor of another shape resized to ``current``'s, with a note; None when it cannot be."""
        return None

    def check_exportable(self, model: ScaleNetBackbone) -> None:
        """``ValueError`` when the model cannot be written as the plain architecture."""


def is_plain_scalenet(state: StateDict) -> bool:
    """A ScaleNet state dict with identity layer maps and no adapters or per-position norms (a plain model
    saved by our backbone: ``depth_scale=1``, or untied without adapters)."""
    keys = {k: parse_position_key(k) for k in state}
    maps = [state[k] for k, parsed in keys.items() if parsed is not None and parsed.part == LAYER_MAP]
    per_position = any(parsed is not None and parsed.is_per_position for parsed in keys.values())
    return not per_position and all(torch.equal(m, torch.arange(len(m), dtype=m.dtype)) for m in maps)


def has_layer_maps(state: StateDict) -> bool:
    """Whether the state holds a ScaleNet ``layer_map`` buffer."""
    return any(is_layer_map(k) for k in state)


def is_layer_map(key: str) -> bool:
    """Whether ``key`` names a ScaleNet ``layer_map`` buffer (of any sequence)."""
    parsed = parse_position_key(key)
    return parsed is not None and parsed.part == LAYER_MAP
