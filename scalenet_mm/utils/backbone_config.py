"""Build the backbone a config describes (for the checkpoint and analysis tools)."""
from typing import Optional

from mmengine.config import Config

from ..models.backbones.scalenet_swin import ScaleNetSwinTransformer
from ..registry import MODELS


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read an mmengine config file and apply ``--cfg-options`` overrides."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_backbone(cfg: Config, with_init_cfg: bool = False) -> ScaleNetSwinTransformer:
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
    if not isinstance(backbone, ScaleNetSwinTransformer):
        raise ValueError(f'model.backbone is a {type(backbone).__name__}, not a ScaleNetSwinTransformer')
    return backbone
