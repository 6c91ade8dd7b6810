"""Build the model or backbone a config describes (for the checkpoint and analysis tools, pre-run checks)."""
from typing import Optional

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS as ROOT_MODELS
from mmengine.registry import DefaultScope

from ..models.scaling.scalenet_backbone import ScaleNetBackbone
from ..registry import MODELS


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read an mmengine config file and apply ``--cfg-options`` overrides."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_backbone(cfg: Config, with_init_cfg: bool = False) -> ScaleNetBackbone:
    """The ScaleNet backbone of ``cfg.model.backbone`` (or of ``cfg.model`` when that is the backbone).

    ``init_cfg`` (pretrained weights) is dropped unless ``with_init_cfg``: tools load their own checkpoint.
    """
    model_cfg = cfg.get('model')
    if model_cfg is None:
        raise ValueError('the config has no `model`; expected model.backbone=dict(type='
                         "'scalenet_mm.ScaleNetSwinTransformer', ...)")
    backbone_cfg = dict(model_cfg.get('backbone', model_cfg))
    if not with_init_cfg:
        backbone_cfg.pop('init_cfg', None)
    backbone = MODELS.build(backbone_cfg)
    if not isinstance(backbone, ScaleNetBackbone):
        raise ValueError(f'model.backbone is a {type(backbone).__name__}, not a ScaleNetSwinTransformer or '
                         'ScaleNetVisionTransformer')
    return backbone


def build_model(cfg: Config, with_init_cfg: bool = False) -> nn.Module:
    """The whole ``cfg.model`` (an mmdet/mmseg model or our classifier), built under the config's
    ``default_scope``; weights are not initialised. The backbone's ``init_cfg`` (pretrained weights) is
    dropped unless ``with_init_cfg``, so nothing is downloaded."""
    model_cfg = cfg.model.copy()
    if not with_init_cfg and 'backbone' in model_cfg:
        model_cfg.backbone = {k: v for k, v in model_cfg.backbone.items() if k != 'init_cfg'}
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'scalenet_mm')):
        return ROOT_MODELS.build(model_cfg)
