"""Delta checkpoints: a checkpoint that leaves out the frozen weights its base file gives back bit for bit.

With a ``trainable`` policy that freezes the shared weights (``adapters_norms``, ``adapters``), those weights
never change from what the backbone's ``init_cfg`` file (the *base*) loaded. A delta checkpoint is mmengine's
usual checkpoint dict (``meta``, ``state_dict``, ``optimizer``, ``param_schedulers``, ``message_hub``) whose
``state_dict`` lacks exactly those weights, and whose ``meta['scalenet_delta']`` records how to get them back
(:class:`DeltaPlan`): the base's identity (path, size, SHA-256), the backbone's module name, the ``init_cfg``
prefix the base was read with, and the model keys left out. Everything else stays: trained parameters, buffers,
and any frozen tensor the base does not give (e.g. per-position norms copied from the blocks).

:func:`complete_delta` turns a delta back into the full state dict: it checks the base file's size and SHA-256,
reads it through the same strict loader that grew the backbone (:func:`.load.plan_pretrained`) and requires
the result to hold every model key exactly once.
"""
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping, MutableMapping, Optional

import torch
import torch.nn as nn
from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

from ..models.scaling.scalenet_backbone import ScaleNetBackbone
from .base_identity import BaseIdentity
from .delta_meta import DELTA_META, is_delta
from .load import plan_pretrained, read_checkpoint

DELTA_VERSION = 1
ENABLE_HINT = ("set model.backbone.trainable='adapters_norms' (or 'adapters') and "
               "model.backbone.init_cfg=dict(type='Pretrained', checkpoint=<local base file>), or save full "
               'checkpoints (default_hooks.checkpoint.delta=False)')


@dataclass
class DeltaPlan:
    """What a delta checkpoint of a model leaves out, and where it comes back from.

    ``module``: the ScaleNet backbone's module name in the model (``''`` when the model is the backbone);
    ``base_prefix``: the ``init_cfg.prefix`` the base was read with; ``keys``: the model state-dict keys left out,
    each given by the base; ``kept_frozen``: frozen keys the base does not give, kept in the delta.
    """
    module: str
    base: BaseIdentity
    base_prefix: Optional[str]
    keys: list[str]
    kept_frozen: list[str]

    def as_meta(self) -> dict[str, Any]:
        """Plain types only (torch's safe loading reads them)."""
        return dict(version=DELTA_VERSION, module=self.module, base=self.base.as_meta(), base_prefix=self.base_prefix,
                    keys=list(self.keys), kept_frozen=list(self.kept_frozen))

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], checkpoint: str) -> 'DeltaPlan':
        """The plan :meth:`as_meta` stored; ``ValueError`` for a format this version does not read."""
        if meta.get('version') != DELTA_VERSION:
            raise ValueError(f'delta checkpoint {checkpoint!r} has format version {meta.get("version")!r}; this '
                             f'scalenet_mm reads version {DELTA_VERSION}')
        return cls(meta['module'], BaseIdentity.from_meta(meta['base']), meta['base_prefix'], list(meta['keys']),
                   list(meta['kept_frozen']))

    def summary(self) -> str:
        """One line for the log."""
        kept = f'; {len(self.kept_frozen)} frozen tensor(s) the base does not give are kept' \
            if self.kept_frozen else ''
        return (f'delta checkpoints: {len(self.keys)} frozen tensors of {self.module or "the model"} left out, given '
                f'back by the base {self.base.path} (sha256 {self.base.sha256[:12]}...){kept}')


def frozen_parameter_keys(model: nn.Module) -> list[str]:
    """Names of the parameters with ``requires_grad=False``, in state-dict order."""
    return [name for name, param in model.named_parameters() if not param.requires_grad]


def local_key(module: str, key: str) -> str:
    """``key`` of the model as the backbone named ``module`` calls it."""
    return key[len(module) + 1:] if module else key


def frozen_backbone(model: nn.Module, frozen: list[str]) -> tuple[str, ScaleNetBackbone]:
    """The one ScaleNet backbone of ``model`` that holds the frozen parameters, and its module name."""
    backbones = [(name, module) for name, module in model.named_modules() if isinstance(module, ScaleNetBackbone)]
    owners = [(name, module) for name, module in backbones
              if any(not name or key.startswith(f'{name}.') for key in frozen)]
    outside = [key for key in frozen if not any(not name or key.startswith(f'{name}.') for name, _ in backbones)]
    if outside or len(owners) != 1:
        where = f'{len(outside)} frozen parameter(s) outside a ScaleNet backbone: {outside[:5]}' if outside else \
            f'frozen parameters in {len(owners)} ScaleNet backbones ({[name for name, _ in owners]})'
        raise ValueError(f'a delta checkpoint leaves out the frozen weights of one ScaleNet backbone grown from a base '
                         f'file; this model has {where}: save full checkpoints (default_hooks.checkpoint.delta=False)')
    return owners[0]


def base_file(backbone: ScaleNetBackbone, module: str) -> tuple[str, Optional[str]]:
    """``(checkpoint, prefix)`` of the backbone's ``init_cfg``: the base its frozen weights came from."""
    init_cfg = getattr(backbone, 'init_cfg', None)
    name = f'model.{module}' if module else 'model'
    if not isinstance(init_cfg, Mapping) or init_cfg.get('type') != 'Pretrained':
        raise ValueError(f'delta checkpoints need the base file the frozen weights come from, but {name}.init_cfg is '
                         f'{init_cfg!r}: {ENABLE_HINT}')
    checkpoint = str(init_cfg['checkpoint'])
    if '://' in checkpoint:
        raise ValueError(f'{name}.init_cfg.checkpoint={checkpoint!r} is not a local file; a delta checkpoint records '
                         'its base by path, size and SHA-256: download it and point init_cfg at the file')
    return checkpoint, init_cfg.get('prefix')


def plan_delta(model: nn.Module) -> DeltaPlan:
    """The delta of ``model`` as it is now (weights loaded): every frozen parameter that its backbone's base file
    gives back bit for bit is left out. ``ValueError`` when nothing is frozen, there is no local base, or a frozen
    weight the base gives differs from it (it was loaded from elsewhere, e.g. ``load_from``)."""
    frozen = frozen_parameter_keys(model)
    if not frozen:
        raise ValueError(f'delta checkpoints leave out frozen weights, but every parameter of this model trains '
                         f'(trainable=\'all\'?): {ENABLE_HINT}')
    module, backbone = frozen_backbone(model, frozen)
    path, prefix = base_file(backbone, module)
    base = BaseIdentity.of_file(path)
    target, report = plan_pretrained(backbone, read_checkpoint(path), path, prefix)
    given = set(report.matched)
    state = model.state_dict()
    keys, kept, differ = [], [], []
    for key in frozen:
        local = local_key(module, key)
        if local not in given:
            kept.append(key)
        elif torch.equal(state[key].detach().cpu(), target[local]):
            keys.append(key)
        else:
            differ.append(key)
    if differ:
        raise ValueError(f'{len(differ)} frozen weight(s) differ from the base file {path} they would be rebuilt from '
                         f'({differ[:4]}): they were loaded from elsewhere (load_from?). A delta against this base '
                         'would give other weights back; save full checkpoints (default_hooks.checkpoint.delta=False) '
                         'or grow the backbone from the file these weights came from')
    return DeltaPlan(module, base, prefix, keys, kept)


def make_delta(checkpoint: MutableMapping[str, Any], plan: DeltaPlan) -> None:
    """Turn mmengine's checkpoint dict into a delta checkpoint, in place (``plan`` from :func:`plan_delta`)."""
    state = checkpoint['state_dict']
    absent = [key for key in plan.keys if key not in state]
    if absent:
        raise ValueError(f'the checkpoint lacks {len(absent)} key(s) the delta plan leaves out ({absent[:4]}): the '
                         'model changed since the plan was made')
    for key in plan.keys:
        del state[key]
    checkpoint['meta'][DELTA_META] = plan.as_meta()


def complete_delta(model: nn.Module, checkpoint: MutableMapping[str, Any], name: str,
                   base: Optional[str] = None) -> DeltaPlan:
    """Turn delta ``checkpoint`` (named ``name`` in errors) back into a full checkpoint of ``model``, in place.

    The base is read from ``base`` (a moved copy) or the recorded path, after checking its size and SHA-256;
    ``model`` (the one the checkpoint will load into, e.g. built from the run's config) gives the layout and is
    not changed. Afterwards ``state_dict`` holds every key of ``model.state_dict()`` in its order, nothing else, and
    ``meta`` no longer marks a delta. Returns the plan the checkpoint recorded.
    """
    plan = DeltaPlan.from_meta(checkpoint['meta'][DELTA_META], name)
    path = base if base is not None else plan.base.path
    plan.base.check(path, name)
    backbone = model.get_submodule(plan.module) if plan.module else model
    if not isinstance(backbone, ScaleNetBackbone):
        raise ValueError(f'delta checkpoint {name!r} rebuilds the ScaleNet backbone {plan.module!r}, but this model '
                         f'has a {type(backbone).__name__} there: use the config the checkpoint was trained with')
    target, _ = plan_pretrained(backbone, read_checkpoint(path), path, plan.base_prefix)
    state = checkpoint['state_dict']
    doubled = [key for key in plan.keys if key in state]
    not_given = [key for key in plan.keys if local_key(plan.module, key) not in target]
    merged = dict(state)
    merged.update((key, target[local_key(plan.module, key)]) for key in plan.keys if key not in not_given)
    model_keys = list(model.state_dict())
    known = set(model_keys)
    missing = [key for key in model_keys if key not in merged]
    unexpected = [key for key in merged if key not in known]
    problems = [f'{len(keys)} {what}: {keys[:6]}' for keys, what in (
        (doubled, 'key(s) both in the delta and left out of it'), (not_given, 'left-out key(s) the base does not give'),
        (missing, 'model key(s) neither in the delta nor given by the base'),
        (unexpected, 'key(s) the model does not have')) if keys]
    if problems:
        raise ValueError(f'delta checkpoint {name!r} with base {path} does not complete this model '
                         f'({type(model).__name__}):\n  ' + '\n  '.join(problems))
    completed = OrderedDict((key, merged[key]) for key in model_keys)
    if hasattr(state, '_metadata'):  # modules' state-dict versions, as torch's state_dict() records them
        completed._metadata = state._metadata
    checkpoint['state_dict'] = completed
    del checkpoint['meta'][DELTA_META]
    return plan


def load_checkpoint_strictly(model: nn.Module, filename: str, delta_base: Optional[str] = None) -> dict[str, Any]:
    """mmengine's ``load_checkpoint(model, filename, map_location='cpu', strict=True)``, a delta checkpoint
    completed first (:func:`complete_delta`, ``delta_base`` when its base moved). Returns the checkpoint dict."""
    checkpoint = _load_checkpoint(filename, map_location='cpu')
    if is_delta(checkpoint):
        complete_delta(model, checkpoint, filename, delta_base)
    return _load_checkpoint_to_model(model, checkpoint, strict=True)
