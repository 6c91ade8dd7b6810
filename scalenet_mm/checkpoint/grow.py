"""Grow a trained detector, segmentor or classifier: its backbone deepened as a ScaleNet config says, the
neck and heads kept.

The checkpoint is a full model (``backbone.*`` beside ``neck.*``, ``rpn_head.*``, ``decode_head.*``, ``head.*``
...) whose backbone is a plain Swin or ViT in any layout :func:`.load.load_pretrained` reads. The model is built
from the ScaleNet config of the same task: its backbone is filled from the checkpoint's (shared positions run
the trained blocks, adapters start at zero, gates closed with ``gate_inserted=True``), and every other model
tensor is copied from the checkpoint, strictly: a key missing on either side or a shape mismatch refuses the
whole request before the model is touched.
"""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn

from ..models.scaling.scalenet_backbone import ScaleNetBackbone
from .load import LoadReport, extract_state_dict, load_pretrained_from, read_checkpoint

BACKBONE_PREFIX = 'backbone.'


@dataclass
class GrownModel:
    """The grown model's complete state dict, the backbone's load report, the copied non-backbone keys and
    the source checkpoint's ``dataset_meta`` (class names and palette, which the inferencers read)."""
    state_dict: 'OrderedDict[str, torch.Tensor]'
    backbone_report: LoadReport
    kept: list[str] = field(default_factory=list)
    dataset_meta: Optional[dict] = None

    def summary(self) -> str:
        """A few lines for the log."""
        prefixes = sorted({key.split('.')[0] for key in self.kept})
        return (f'backbone: {self.backbone_report.summary()}\n'
                f'kept {len(self.kept)} tensors of {", ".join(prefixes) or "nothing"} unchanged')


def check_rest_fits(model: nn.Module, rest: 'OrderedDict[str, torch.Tensor]', checkpoint: str) -> None:
    """``ValueError`` listing every non-backbone key missing, unexpected or misshaped between the two."""
    wanted = OrderedDict((k, v) for k, v in model.state_dict().items() if not k.startswith(BACKBONE_PREFIX))
    missing = [k for k in wanted if k not in rest]
    unexpected = [k for k in rest if k not in wanted]
    misshaped = [f'{k}: checkpoint {tuple(rest[k].shape)} vs model {tuple(v.shape)}'
                 for k, v in wanted.items() if k in rest and rest[k].shape != v.shape]
    if missing or unexpected or misshaped:
        parts = [f'{len(items)} {what}: {items[:8]}' for what, items in
                 (('model key(s) missing from the checkpoint', missing),
                  ('checkpoint key(s) the model does not have', unexpected),
                  ('shape mismatch(es)', misshaped)) if items]
        raise ValueError(f'the neck/heads of {checkpoint!r} do not fit the config\'s model (the same task, '
                         'neck and heads are needed; only the backbone grows):\n  ' + '\n  '.join(parts))


def grow_model(model: nn.Module, checkpoint: str) -> GrownModel:
    """Fill ``model`` (whose ``backbone`` is a ScaleNet backbone) from the trained full-model ``checkpoint``.

    Returns the state dict to save (``model.state_dict()`` afterwards) with the reports.
    """
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, ScaleNetBackbone):
        raise ValueError(f'the config\'s model.backbone is a {type(backbone).__name__}, not a ScaleNet backbone '
                         '(scalenet_mm.ScaleNetSwinTransformer or scalenet_mm.ScaleNetVisionTransformer)')
    raw = read_checkpoint(checkpoint)
    state = extract_state_dict(raw)
    if not any(k.startswith(BACKBONE_PREFIX) for k in state):
        raise ValueError(f'{checkpoint!r} has no {BACKBONE_PREFIX!r} keys, so it is not a full detector, segmentor '
                         f'or classifier (first keys: {list(state)[:4]}); a backbone-only file is loaded with '
                         "model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...) instead")
    rest = OrderedDict((k, v) for k, v in state.items() if not k.startswith(BACKBONE_PREFIX))
    check_rest_fits(model, rest, checkpoint)
    report = load_pretrained_from(backbone, raw, checkpoint, prefix=BACKBONE_PREFIX)  # the file is read once
    grown = OrderedDict((f'{BACKBONE_PREFIX}{k}', v) for k, v in backbone.state_dict().items())
    model.load_state_dict(OrderedDict([*grown.items(), *rest.items()]), strict=True)
    meta = raw.get('meta') if isinstance(raw.get('meta'), dict) else {}
    return GrownModel(state_dict=model.state_dict(), backbone_report=report, kept=list(rest),
                      dataset_meta=meta.get('dataset_meta'))
