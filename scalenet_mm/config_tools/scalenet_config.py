"""Turn an mmdet/mmseg config whose backbone is ``SwinTransformer`` into its ScaleNet version.

The written config inherits the original (``_base_``) and changes only what ScaleNet needs: the backbone
``type`` (every mmdet/mmseg Swin argument keeps its meaning), ``depth_scale``, the adapters, the trainable
policy, ``custom_imports`` (the original's imports kept) and an explicit optimizer key for the adapters.
"""
import os.path as osp
import re
from typing import Any, Optional

from mmengine.config import Config

from ..models.backbones.swin_arguments import MM_SWIN_DEFAULTS
from ..models.scaling.trainable import TRAINABLE_POLICIES

SWIN_TYPES = ('SwinTransformer', 'mmdet.SwinTransformer', 'mmseg.SwinTransformer')
# what each trainable policy of the backbone (models/scaling/trainable.py) means, in the written config's header;
# keyed by TRAINABLE_POLICIES, so a new policy without a note fails here, at import
_SWIN_POLICY_NOTES = {
    'all': 'every backbone weight trained (full fine-tuning)',
    'adapters_norms': 'shared Swin weights frozen, adapters and LayerNorms trained (parameter-efficient)',
    'adapters': 'only the adapters trained in the backbone',
}
TRAINABLE_NOTES = {policy: _SWIN_POLICY_NOTES[policy] for policy in TRAINABLE_POLICIES}


def swin_backbone(cfg: Config) -> Optional[dict]:
    """``cfg.model.backbone`` when it is an mmdet/mmseg ``SwinTransformer``, else None."""
    backbone = cfg.get('model', {}).get('backbone')
    return backbone if isinstance(backbone, dict) and backbone.get('type') in SWIN_TYPES else None


def adapter_param_settings(cfg: Config, decay_mult: float) -> dict[str, Any]:
    """The paramwise settings an adapter would get from the original's ``custom_keys`` (mmengine applies the
    longest key contained in the parameter name), with ``decay_mult`` set explicitly."""
    custom_keys = cfg.get('optim_wrapper', {}).get('paramwise_cfg', {}).get('custom_keys', {})
    name = 'backbone.stages.0.adapters.0.fc1.down.weight'
    matching = sorted((key for key in custom_keys if key in name), key=len, reverse=True)
    inherited = dict(custom_keys[matching[0]]) if matching else {}
    return dict(inherited, decay_mult=decay_mult)


def scalenet_config_name(source: str, depth_scale: float) -> str:
    """``mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py`` -> ``mask-rcnn_scalenet-swin-t-p4-w7-d2x_fpn_1x_coco.py``."""
    stem = osp.splitext(osp.basename(source))[0]
    tag = f'-d{depth_scale:g}x'.replace('.', 'p')
    if re.search(r'swin', stem, flags=re.IGNORECASE):
        return re.sub(r'(swin[^_]*)', lambda m: f'scalenet-{m.group(1)}{tag}', stem, count=1,
                      flags=re.IGNORECASE) + '.py'
    return f'scalenet{tag}_{stem}.py'


def scalenet_config_text(source: str, dest: str, depth_scale: float, adapter: Optional[dict[str, Any]],
                         trainable: str, adapter_decay_mult: float, drop_path_rate: Optional[float] = None) -> str:
    """The text of a config at ``dest`` that is ``source`` with its Swin backbone made a ScaleNet backbone.

    ``drop_path_rate`` (0 <= rate < 1) replaces the original's stochastic-depth rate; None keeps it.

    Raises ``ValueError`` when ``source`` has no ``model.backbone`` of type ``SwinTransformer``.
    """
    cfg = Config.fromfile(source)
    backbone = swin_backbone(cfg)
    if backbone is None:
        found = (cfg.get('model') or {}).get('backbone')
        what = 'no model.backbone' if found is None else f'model.backbone of type {found.get("type")!r}'
        raise ValueError(f'{source} has {what}, not one of {SWIN_TYPES}: nothing to convert')
    if drop_path_rate is not None and not 0 <= drop_path_rate < 1:
        raise ValueError(f'drop_path_rate={drop_path_rate!r} must be in [0, 1), e.g. 0.3')
    if trainable not in TRAINABLE_POLICIES:
        raise ValueError(f'trainable={trainable!r} is not known; use one of {TRAINABLE_POLICIES}')
    imports = cfg.get('custom_imports', {}).get('imports', [])
    imports = [imports] if isinstance(imports, str) else list(imports)  # mmengine takes one module name as a str
    imports = imports + ['scalenet_mm'] if 'scalenet_mm' not in imports else imports
    source_path, dest_dir = osp.abspath(source), osp.dirname(osp.abspath(dest))
    # relative within one tree (the pair moves together), absolute otherwise (e.g. a config of the installed mmdet)
    same_tree = osp.commonpath([source_path, dest_dir]) not in ('/', osp.dirname(dest_dir))
    base = osp.relpath(source_path, dest_dir) if same_tree else source_path
    depths = backbone.get('depths', MM_SWIN_DEFAULTS['depths'])
    # a stage of odd depth (e.g. RTMDet-P6's depth-1 fifth stage) grown cyclically runs a block at a position of
    # the other window mode: say which mode the position takes (as a plain deeper Swin would)
    shift_line = ("        shift_policy='by_position',  # an odd-depth stage: W/SW-MSA by position\n"
                  if depth_scale != 1 and any(d % 2 for d in depths) else '')
    drop_path_line = '' if drop_path_rate is None else f'        drop_path_rate={drop_path_rate!r},\n'
    adapter_note = 'no adapters (sharing only)' if adapter is None else (
        f"{adapter['type']} adapters on {', '.join(adapter['targets'])}, width {adapter['dim']}")
    return f'''# ScaleNet version of {osp.basename(source)} (written by tools/scalenet_config.py): the Swin backbone
# deepened {depth_scale:g}x by sharing each stage's blocks, {adapter_note};
# {TRAINABLE_NOTES[trainable]}. Every other setting is the original's.
_base_ = [{base!r}]
custom_imports = dict(imports={imports!r}, allow_failed_imports=False)
model = dict(
    backbone=dict(
        type='scalenet_mm.ScaleNetSwinTransformer',
        depth_scale={depth_scale!r},
{shift_line}{drop_path_line}        adapter={adapter!r},
        trainable={trainable!r}))
''' + ('' if adapter is None else f'''# the adapters' optimizer settings stated rather than inherited silently:
# the original's settings for backbone parameters (if any) with weight decay x{adapter_decay_mult:g}
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={{'.adapters.': {adapter_param_settings(cfg, adapter_decay_mult)!r}}}))
''')
