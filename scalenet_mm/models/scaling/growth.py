"""Growing inside one run: which inserted positions run at a growth fraction, and the backbone that grows.

A grown backbone can train at its source depth first and switch its inserted positions on later
(:class:`~scalenet_mm.engine.GrowthScheduleHook`). Growth ``f`` in ``[0, 1]`` runs, in every scaled sequence
(a Swin stage, the ViT), the original positions and the first ``floor(f * n + 1/2)`` of its ``n`` inserted
positions in position order: ``0`` is the source depth, ``1`` the full scaled depth (the default). A skipped
position is not run at all: it costs nothing and its own tensors (adapters, gate, norms) get no gradient.
"""
import math

import torch.nn as nn
from mmengine.model import is_model_wrapper

from .scalenet_backbone import ScaleNetBackbone


def check_growth(fraction: float) -> float:
    """``fraction`` as a float; ``ValueError`` unless it is a number in ``[0, 1]``."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        raise ValueError(f'growth={fraction!r} must be a number in [0, 1]: 0 runs the source depth, 1 every '
                         'position, 0.5 half of the inserted positions of each stage')
    return float(fraction)


def active_inserted_count(num_inserted: int, fraction: float) -> int:
    """How many of ``num_inserted`` inserted positions run at growth ``fraction``: ``floor(f * n + 1/2)``."""
    return math.floor(check_growth(fraction) * num_inserted + 0.5)


def growing_backbone(model: nn.Module) -> ScaleNetBackbone:
    """The ScaleNet backbone of ``model`` (``model.backbone``, or ``model`` itself; a DDP wrapper unwrapped)
    that has inserted positions to switch on; ``ValueError`` naming what was found otherwise."""
    model = model.module if is_model_wrapper(model) else model
    backbone = getattr(model, 'backbone', model)
    if not isinstance(backbone, ScaleNetBackbone):
        raise ValueError(f'growth needs a ScaleNet backbone (scalenet_mm.ScaleNetSwinTransformer or '
                         f'scalenet_mm.ScaleNetVisionTransformer) as model.backbone; got a {type(backbone).__name__}')
    if backbone.scaled_depths == backbone.source_depths:
        raise ValueError(f'the backbone has no inserted positions to grow into (source depths '
                         f'{backbone.source_depths} = scaled depths {backbone.scaled_depths}): build it with '
                         'depth_scale > 1 (e.g. depth_scale=2)')
    return backbone
