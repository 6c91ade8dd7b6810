"""Strict loading of Swin / ScaleNet checkpoints into a :class:`ScaleNetSwinTransformer`, with a report.

A *source* checkpoint (official, timm, mmpretrain, mmdet, mmseg Swin) fills the source blocks of every
stage before scaling: shared positions then run those blocks, and with ``unshare=True`` every position's
block is a copy of its source block. A *ScaleNet* checkpoint is loaded key for key, map included.
Every weight of the backbone must come from the checkpoint except the adapters (zero ``up`` after a source
load), per-position norms (copied from their source blocks), the layer maps, and, for classification
checkpoints, the output norms of the stages they did not output (they have only the last, often as a single
final ``norm``, renamed to it); output norms of stages the model does not output are skipped. Anything
missing, unexplained or of the wrong shape raises ``ValueError`` before the model is touched.
Relative-position bias tables of another window size are resized (bicubic) and reported.
"""
from __future__ import annotations

import pickle
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional

import torch
import torch.nn.functional as F
from mmengine.runner.checkpoint import CheckpointLoader

from .convert import FINAL_NORM_NOTE, RECOMPUTED_BUFFERS, is_plain_swin, to_mm_backbone

if TYPE_CHECKING:  # the backbone imports this module
    from ..models.backbones.scalenet_swin import ScaleNetSwinTransformer

# keys that a checkpoint of another detector/segmentor/classifier holds beside ``backbone.``
FAMILY_MARKERS = (('mmseg', ('decode_head.', 'auxiliary_head.')), ('mmdet', ('rpn_head.', 'roi_head.', 'neck.',
                  'bbox_head.')), ('mmpretrain', ('head.', 'neck.')))


@dataclass
class LoadReport:
    """What a pretrained load did. ``matched``: checkpoint tensors loaded (per model key)."""
    checkpoint: str
    source: str
    format: str
    matched: list[str] = field(default_factory=list)
    resized: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)
    initialised: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the log."""
        lines = [f'loaded {self.checkpoint} ({self.source}, {self.format} layout) strictly: '
                 f'{len(self.matched)} tensors matched, {len(self.resized)} resized, '
                 f'{len(self.skipped)} checkpoint keys skipped, {len(self.initialised)} model tensors kept at '
                 'their initialisation']
        lines += [f'  resized {k}: {why}' for k, why in self.resized.items()]
        lines += [f'  {k} -> {new} ({FINAL_NORM_NOTE}; mmdet/mmseg drop it)' for k, new in self.renamed.items()]
        reasons: dict[str, list[str]] = {}
        for key, why in self.skipped.items():
            reasons.setdefault(why, []).append(key)
        lines += [f'  skipped {len(keys)} ({why}): {", ".join(keys[:4])}{" ..." if len(keys) > 4 else ""}'
                  for why, keys in reasons.items()]
        return '\n'.join(lines)


def read_safetensors(path: str) -> dict[str, Any]:
    """A local ``.safetensors`` file (timm's and the Hugging Face hub's format: tensors only, no pickle)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file  # a dependency of timm; imported only for such files
    if '://' in path:
        raise ValueError(f'checkpoint {path!r}: download .safetensors files first; only local ones are read')
    try:
        return load_file(path, device='cpu')
    except SafetensorError as exc:
        raise ValueError(f'checkpoint {path!r} cannot be read as safetensors ({exc}); is it truncated?') from exc


def read_checkpoint(path: str) -> dict[str, Any]:
    """Load a checkpoint file (local or URL) with torch's safe loading, or a local ``.safetensors`` file; clear
    errors for bad files."""
    try:
        raw = read_safetensors(str(path)) if str(path).endswith('.safetensors') else \
            CheckpointLoader.load_checkpoint(path, map_location='cpu')
    except FileNotFoundError as exc:
        raise FileNotFoundError(f'checkpoint {path!r} does not exist (set init_cfg.checkpoint to an existing '
                                'file)') from exc
    except pickle.UnpicklingError as exc:
        if 'Weights only load failed' not in str(exc):
            raise ValueError(f'checkpoint {path!r} cannot be unpickled ({exc}); is it truncated?') from exc
        raise pickle.UnpicklingError(
            f'checkpoint {path!r} was refused by safe loading: it holds Python objects outside the allow-list '
            f'(torch said: {str(exc).splitlines()[-1] if str(exc) else exc}). If you trust the file, pass '
            '--trust-checkpoints to our tools or export TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1.') from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ValueError(f'checkpoint {path!r} cannot be read ({type(exc).__name__}: {exc}); is it truncated or '
                         'not a torch checkpoint?') from exc
    if not isinstance(raw, Mapping):
        raise ValueError(f'checkpoint {path!r} holds a {type(raw).__name__}, not a state dict')
    return dict(raw)


def extract_state_dict(raw: Mapping[str, Any]) -> 'OrderedDict[str, torch.Tensor]':
    """The tensor dict inside a checkpoint (``state_dict``, ``model`` or the top level), ``module.`` removed."""
    for key in ('state_dict', 'model', 'module'):
        if key in raw and isinstance(raw[key], Mapping):
            raw = raw[key]
            break
    state = OrderedDict((k, v) for k, v in raw.items() if isinstance(v, torch.Tensor))
    if state and all(k.startswith('module.') for k in state):
        state = OrderedDict((k[len('module.'):], v) for k, v in state.items())
    return state


def select_backbone(state: Mapping[str, torch.Tensor], prefix: Optional[str]
                    ) -> tuple[str, 'OrderedDict[str, torch.Tensor]']:
    """Keep the backbone's keys (under ``prefix``, or ``backbone.`` when present); name where they came from."""
    if prefix is None and any(k.startswith('backbone.') for k in state):
        prefix = 'backbone.'
    if prefix is not None and not prefix.endswith('.'):
        prefix += '.'  # as mmengine's Pretrained init does: 'backbone' means 'backbone.'
    if prefix is None:
        return 'backbone state dict', OrderedDict(state)
    selected = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
    if not selected:
        raise ValueError(f'no checkpoint key starts with prefix={prefix!r}; first keys: {list(state)[:5]}')
    others = [k for k in state if not k.startswith(prefix)]
    family = next((name for name, markers in FAMILY_MARKERS if any(k.startswith(markers) for k in others)),
                  'full model')
    return f'{family} checkpoint, prefix {prefix!r}', selected


def resize_bias_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Bicubic resize of a ``((2W-1)^2, heads)`` relative-position bias table to ``length`` rows."""
    old, new = int(table.shape[0] ** 0.5), int(length ** 0.5)
    grid = table.permute(1, 0).reshape(1, table.shape[1], old, old)
    return F.interpolate(grid, size=(new, new), mode='bicubic').reshape(table.shape[1], length).permute(1, 0)


def source_key(model: ScaleNetSwinTransformer, key: str) -> Optional[str]:
    """The source-checkpoint key that initialises model ``key``; None when it is not loaded from a source."""
    match = re.match(r'stages\.(\d+)\.(blocks|adapters|position_norms|layer_map)(?:\.(\d+))?(\..*)?$', key)
    if match is None:
        return key
    stage, part, index, rest = match.groups()
    if part != 'blocks':
        return None
    source_block = model.stages[int(stage)].block_source[int(index)]
    return f'stages.{stage}.blocks.{source_block}{rest}'


def plan_load(model: ScaleNetSwinTransformer, fmt: str, converted: Mapping[str, torch.Tensor],
              report: LoadReport) -> 'OrderedDict[str, torch.Tensor]':
    """The complete state dict to load, or ``ValueError`` listing every missing/unexpected/misshaped key."""
    model_state = model.state_dict()
    target: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    missing, misshaped, used = [], [], set()
    if fmt != 'scalenet':
        ckpt_depths = [1 + max([int(m.group(1)) for k in converted
                                if (m := re.match(rf'stages\.{s}\.blocks\.(\d+)\.', k))] or [-1])
                       for s in range(len(model.stages))]
        if tuple(ckpt_depths) != model.source_depths:
            raise ValueError(f'checkpoint {report.checkpoint!r} has stage depths {tuple(ckpt_depths)} but the '
                             f'model source arch has {model.source_depths}: choose the arch that matches the '
                             'checkpoint (depth_scale then deepens it)')

    def lookup(key: str) -> Optional[str]:
        # output norms of stages a checkpoint did not output (classification checkpoints: only the last) stay
        # at their initialisation, as mmdet/mmseg do
        if re.fullmatch(r'norm\d+\.(weight|bias)', key) and key not in converted:
            return None
        return key if fmt == 'scalenet' else source_key(model, key)
    for key, current in model_state.items():
        if key.split('.')[-1] in RECOMPUTED_BUFFERS:
            target[key] = current
            continue
        src = lookup(key)
        if src is None:
            target[key] = current
            report.initialised.append(key)
            continue
        if src not in converted:
            missing.append(key if src == key else f'{key} (from {src})')
            continue
        value = converted[src]
        used.add(src)
        if value.shape != current.shape:
            if key.endswith('relative_position_bias_table') and value.shape[1] == current.shape[1]:
                value = resize_bias_table(value, current.shape[0])
                report.resized[key] = f'{tuple(converted[src].shape)} -> {tuple(current.shape)}'
            else:
                misshaped.append(f'{key}: checkpoint {tuple(value.shape)} vs model {tuple(current.shape)}')
                continue
        map_problem = layer_map_mismatch(model, key, value)
        if map_problem is not None:
            misshaped.append(f'{key}: {map_problem}')
            continue
        target[key] = value.to(current.dtype)
        report.matched.append(key)
    for key in [k for k in converted if k not in used and re.match(r'norm\d+\.', k)]:
        # a stage output the checkpoint normalised but this model does not output (out_indices)
        report.skipped[key] = f'output norm of a stage not in out_indices={model.out_indices}'
        used.add(key)
    unexpected = [k for k in converted if k not in used and k.split('.')[-1] not in RECOMPUTED_BUFFERS]
    if missing or misshaped or unexpected:
        parts = []
        if missing:
            parts.append(f'{len(missing)} model key(s) missing from the checkpoint: {missing[:8]}')
        if misshaped:
            parts.append(f'{len(misshaped)} shape mismatch(es): {misshaped[:8]}')
        if unexpected:
            parts.append(f'{len(unexpected)} checkpoint key(s) the model does not have: {unexpected[:8]}')
        raise ValueError(f'checkpoint {report.checkpoint!r} ({report.source}, {fmt} layout) does not fit this '
                         f'backbone (arch {model.arch}, scaled depths {model.scaled_depths}):\n  '
                         + '\n  '.join(parts))
    for key in converted:
        if key.split('.')[-1] in RECOMPUTED_BUFFERS:
            report.skipped[key] = 'buffer recomputed by the model'
    return target


def non_finite_keys(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Keys of floating-point tensors holding NaN or Inf."""
    return [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]


def layer_map_mismatch(model: ScaleNetSwinTransformer, key: str, value: torch.Tensor) -> Optional[str]:
    """Why checkpoint tensor ``key`` (a stage's ``layer_map``) cannot load into ``model``; None otherwise."""
    match = re.fullmatch(r'stages\.(\d+)\.layer_map', key)
    return None if match is None else model.stages[int(match.group(1))].layer_map_mismatch(value)


def same_layer_maps(model: ScaleNetSwinTransformer, state: Mapping[str, torch.Tensor]) -> bool:
    """Whether the checkpoint's ``stages.{s}.layer_map`` buffers equal the model's maps."""
    return all(f'stages.{s}.layer_map' in state and layer_map_mismatch(model, f'stages.{s}.layer_map',
                                                                       state[f'stages.{s}.layer_map']) is None
               for s in range(len(model.stages)))


def load_pretrained(model: ScaleNetSwinTransformer, checkpoint: str,
                    prefix: Optional[str] = None) -> LoadReport:
    """Load ``checkpoint`` into ``model`` strictly (see the module docstring); returns the report."""
    raw = read_checkpoint(checkpoint)
    state = extract_state_dict(raw)
    if not state:
        raise ValueError(f'checkpoint {checkpoint!r} contains no tensors (top-level keys: {list(raw)[:8]})')
    source, backbone_state = select_backbone(state, prefix)
    conversion = to_mm_backbone(backbone_state)
    fmt, converted, skipped = conversion.format, conversion.state, conversion.skipped
    if fmt == 'scalenet' and is_plain_swin(converted) and not same_layer_maps(model, converted):
        # a plain Swin saved by our backbone (depth 1, or untied): grow the model from it like any mm Swin
        fmt = 'mm'
        for key in [k for k in converted if k.endswith('.layer_map')]:
            del converted[key]
            skipped[key] = 'identity layer map of a plain Swin saved by ScaleNetSwinTransformer'
    report = LoadReport(checkpoint=str(checkpoint), source=source, format=fmt, skipped=dict(skipped),
                        renamed=dict(conversion.renamed))
    non_finite = non_finite_keys(converted)
    if non_finite:
        raise ValueError(f'checkpoint {checkpoint!r} has NaN/Inf values in {len(non_finite)} tensor(s): '
                         f'{non_finite[:5]}; refusing to load it')
    target = plan_load(model, fmt, converted, report)
    model.load_state_dict(target, strict=True)
    if fmt != 'scalenet':
        # the grown model starts as the source network, whatever a parent's init_cfg did before
        model.start_as_source()
    return report
