"""Strict loading of source and ScaleNet checkpoints into our backbones (Swin or ViT), with a report.

A *source* checkpoint (a plain Swin or ViT/DeiT in any supported layout, see :mod:`.convert`) fills the source
blocks of every scaled sequence (each Swin stage, the ViT's layers): shared positions then run those blocks,
and with ``unshare=True`` every position's block is a copy of its source block. A *ScaleNet* checkpoint is
loaded key for key, map included. Every weight of the backbone must come from the checkpoint except the
adapters (zero ``up`` after a source load), per-position norms (copied from their source blocks), the layer
maps, and what the architecture's layout allows (:class:`.layout.BackboneLayout`: e.g. the Swin output norms a
classification file lacks). Anything missing, unexplained or of the wrong shape raises ``ValueError`` before
the model is touched; resized tensors (Swin bias tables, ViT position embeddings) are reported.

The backbone is read through its contract only (:class:`~scalenet_mm.models.scaling.scalenet_backbone.
ScaleNetBackbone`: ``architecture``, ``shared_positions()``, ``start_as_source()``, ``extra_repr()``), and its
per-position keys through the one parser (:func:`~scalenet_mm.models.scaling.shared_positions.parse_position_key`).
"""
from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from ..models.scaling.scalenet_backbone import ScaleNetBackbone, find_position_key
from ..models.scaling.shared_positions import LAYER_MAP
from .convert import LAYOUTS, detect_architecture
from .delta_meta import is_delta
from .layout import BackboneLayout, is_layer_map, is_plain_scalenet

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
    rename_note: str = ''
    initialised: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the log."""
        lines = [f'loaded {self.checkpoint} ({self.source}, {self.format} layout) strictly: '
                 f'{len(self.matched)} tensors matched, {len(self.resized)} resized, '
                 f'{len(self.skipped)} checkpoint keys skipped, {len(self.initialised)} model tensors kept at '
                 'their initialisation']
        lines += [f'  resized {k}: {why}' for k, why in self.resized.items()]
        lines += [f'  {k} -> {new} ({self.rename_note})' for k, new in self.renamed.items()]
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


def source_key(model: ScaleNetBackbone, key: str) -> Optional[str]:
    """The source-checkpoint key that initialises model ``key``; None when it is not loaded from a source."""
    found = find_position_key(model, key)
    if found is None:
        return key
    positions, parsed = found
    if parsed.part != positions.blocks_name:
        return None  # per-position tensors and the layer map
    return f'{parsed.prefix}{parsed.part}.{positions.block_source[parsed.index]}{parsed.rest}'


def check_source_depths(model: ScaleNetBackbone, converted: Mapping[str, torch.Tensor], checkpoint: str) -> None:
    """``ValueError`` when the checkpoint's number of blocks per scaled sequence differs from the model's source."""
    found, wanted = [], []
    for prefix, positions in model.shared_positions().items():
        keys = [positions.parse_key(k[len(prefix):]) for k in converted if k.startswith(prefix)]
        found.append(1 + max([key.index for key in keys if key is not None and key.part == positions.blocks_name]
                             or [-1]))
        wanted.append(positions.plan.source_depth)
    if found != wanted:
        raise ValueError(f'checkpoint {checkpoint!r} has stage depths {tuple(found)} but the model source arch has '
                         f'{tuple(wanted)}: choose the arch that matches the checkpoint (depth_scale then deepens it)')


def plan_load(model: ScaleNetBackbone, layout: BackboneLayout, fmt: str, converted: Mapping[str, torch.Tensor],
              report: LoadReport) -> 'OrderedDict[str, torch.Tensor]':
    """The complete state dict to load, or ``ValueError`` listing every missing/unexpected/misshaped key."""
    model_state = model.state_dict()
    target: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    missing, misshaped, used = [], [], set()
    recomputed = layout.recomputed_buffers
    if fmt != 'scalenet':
        check_source_depths(model, converted, report.checkpoint)
    for key, current in model_state.items():
        if key.split('.')[-1] in recomputed:
            target[key] = current
            continue
        src = key if fmt == 'scalenet' else source_key(model, key)
        if src is None or (src not in converted and layout.kept_at_init(model, key, converted)):
            target[key] = current
            report.initialised.append(key)
            continue
        if src not in converted:
            missing.append(key if src == key else f'{key} (from {src})')
            continue
        value = converted[src]
        used.add(src)
        if value.shape != current.shape:
            fitted = layout.fit(model, key, value, current)
            if fitted is None:
                misshaped.append(f'{key}: checkpoint {tuple(value.shape)} vs model {tuple(current.shape)}')
                continue
            value, report.resized[key] = fitted
        map_problem = layer_map_mismatch(model, key, value)
        if map_problem is not None:
            misshaped.append(f'{key}: {map_problem}')
            continue
        target[key] = value.to(current.dtype)
        report.matched.append(key)
    for key in converted:
        why = layout.skip_reason(model, key) if key not in used else None
        if why is not None:
            report.skipped[key] = why
            used.add(key)
    unexpected = [k for k in converted if k not in used and k.split('.')[-1] not in recomputed]
    raise_if_not_fitting(model, report, missing, misshaped, unexpected)
    for key in converted:
        if key.split('.')[-1] in recomputed:
            report.skipped[key] = 'buffer recomputed by the model'
    return target


def raise_if_not_fitting(model: ScaleNetBackbone, report: LoadReport, missing: list[str], misshaped: list[str],
                         unexpected: list[str]) -> None:
    """One ``ValueError`` naming every missing, misshaped and unexpected key (the first 8 of each); None if none."""
    parts = []
    if missing:
        parts.append(f'{len(missing)} model key(s) missing from the checkpoint: {missing[:8]}')
    if misshaped:
        parts.append(f'{len(misshaped)} shape mismatch(es): {misshaped[:8]}')
    if unexpected:
        parts.append(f'{len(unexpected)} checkpoint key(s) the model does not have: {unexpected[:8]}')
    if parts:
        raise ValueError(f'checkpoint {report.checkpoint!r} ({report.source}, {report.format} layout) does not fit '
                         f'this backbone ({model.extra_repr()}):\n  ' + '\n  '.join(parts))


def as_plain_source(converted: 'OrderedDict[str, torch.Tensor]', skipped: dict[str, str], architecture: str) -> str:
    """Treat a plain model saved by our backbone (depth 1, or untied) as an mm-layout source: its identity
    ``layer_map`` buffers move from ``converted`` to ``skipped``. Returns the format to load it as, ``'mm'``."""
    for key in [k for k in converted if is_layer_map(k)]:
        del converted[key]
        skipped[key] = f'identity layer map of a plain {architecture} saved by our backbone'
    return 'mm'


def non_finite_keys(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Keys of floating-point tensors holding NaN or Inf."""
    return [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]


def layer_map_mismatch(model: ScaleNetBackbone, key: str, value: torch.Tensor) -> Optional[str]:
    """Why checkpoint tensor ``key`` (a ``layer_map`` buffer) cannot load into ``model``; None otherwise."""
    found = find_position_key(model, key)
    if found is None or found[1].part != LAYER_MAP:
        return None
    return found[0].layer_map_mismatch(value)


def same_layer_maps(model: ScaleNetBackbone, state: Mapping[str, torch.Tensor]) -> bool:
    """Whether the checkpoint's ``layer_map`` buffers equal the model's maps."""
    return all(f'{prefix}{LAYER_MAP}' in state and
               positions.layer_map_mismatch(state[f'{prefix}{LAYER_MAP}']) is None
               for prefix, positions in model.shared_positions().items())


def load_pretrained(model: ScaleNetBackbone, checkpoint: str, prefix: Optional[str] = None) -> LoadReport:
    """Load ``checkpoint`` into ``model`` strictly (see the module docstring); returns the report."""
    return load_pretrained_from(model, read_checkpoint(checkpoint), checkpoint, prefix)


def load_pretrained_from(model: ScaleNetBackbone, raw: Mapping[str, Any], checkpoint: str,
                         prefix: Optional[str] = None) -> LoadReport:
    """:func:`load_pretrained` of a checkpoint already read (``raw``, as :func:`read_checkpoint` returns it;
    ``checkpoint`` names it in reports and errors)."""
    target, report = plan_pretrained(model, raw, checkpoint, prefix)
    model.load_state_dict(target, strict=True)
    if report.format != 'scalenet':
        # the grown model starts as the source network, whatever a parent's init_cfg did before
        model.start_as_source()
    return report


def plan_pretrained(model: ScaleNetBackbone, raw: Mapping[str, Any], checkpoint: str,
                    prefix: Optional[str] = None) -> tuple['OrderedDict[str, torch.Tensor]', LoadReport]:
    """The complete backbone state dict that :func:`load_pretrained_from` loads (before ``start_as_source``),
    and its report; ``model`` is read, not changed. Raises what :func:`load_pretrained_from` raises."""
    if is_delta(raw):
        raise ValueError(f'checkpoint {checkpoint!r} is a delta checkpoint: it leaves out the frozen weights its '
                         'base file gives back. Turn it into a full checkpoint first: python tools/checkpoint_delta.py '
                         f'full CONFIG {checkpoint} FULL.pth')
    state = extract_state_dict(raw)
    if not state:
        raise ValueError(f'checkpoint {checkpoint!r} contains no tensors (top-level keys: {list(raw)[:8]})')
    source, backbone_state = select_backbone(state, prefix)
    architecture = detect_architecture(backbone_state)
    if architecture != model.architecture:
        raise ValueError(f'checkpoint {checkpoint!r} holds a {architecture} backbone, the model is a '
                         f'{model.architecture} ({type(model).__name__}): use the matching backbone type')
    layout = LAYOUTS[architecture]
    conversion = layout.convert(backbone_state)
    fmt, converted, skipped = conversion.format, conversion.state, conversion.skipped
    if fmt == 'scalenet' and is_plain_scalenet(converted) and not same_layer_maps(model, converted):
        fmt = as_plain_source(converted, skipped, architecture)  # grow the model from it like any mm file
    report = LoadReport(checkpoint=str(checkpoint), source=source, format=fmt, skipped=dict(skipped),
                        renamed=dict(conversion.renamed), rename_note=conversion.rename_note)
    non_finite = non_finite_keys(converted)
    if non_finite:
        raise ValueError(f'checkpoint {checkpoint!r} has NaN/Inf values in {len(non_finite)} tensor(s): '
                         f'{non_finite[:5]}; refusing to load it')
    return plan_load(model, layout, fmt, converted, report), report
