"""An optimizer-wrapper constructor that adds layer-wise learning-rate decay over a backbone's layers.

mmdet's and mmseg's ``LearningRateDecayOptimizerConstructor`` know ConvNeXt/BEiT layer names only; this one
asks the backbone itself (``backbone.get_layer_depth(name, 'backbone.')``, as mmpretrain's backbones
answer), so it works for any model whose ``backbone`` (or the model itself) has that method, in mmdet,
mmseg and our classifier configs::

    optim_wrapper = dict(
        constructor='scalenet_mm.LayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        paramwise_cfg=dict(layer_decay_rate=0.9, custom_keys={...}))

Every other ``paramwise_cfg`` rule is mmengine's (``DefaultOptimWrapperConstructor``), applied first; a
backbone parameter at layer ``i`` of ``n`` then gets its lr multiplied by ``rate ** (n - 1 - i)``.
Parameters outside the backbone (neck, heads) keep their lr. Frozen parameters are not handed to the
optimizer (mmengine skips them).
"""
from typing import Any, Optional

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor plus ``paramwise_cfg.layer_decay_rate`` (in ``(0, 1]``, required)."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        rate = paramwise_cfg.pop('layer_decay_rate', None)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 < rate <= 1:
            raise ValueError(f'paramwise_cfg.layer_decay_rate={rate!r}: set a number in (0, 1] (e.g. 0.9); '
                             'without layer decay use the default constructor')
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        # mmengine hands model.parameters() over as one group when paramwise_cfg is empty: never here
        self.paramwise_cfg.setdefault('custom_keys', {})
        self.layer_decay_rate = float(rate)

    def add_params(self, params: list[dict], module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[Any] = None) -> None:
        super().add_params(params, module, prefix, is_dcn_module)
        if prefix == '':  # the outermost call, once mmengine's recursion has filled ``params``
            self.decay_backbone_layers(params, module)

    def decay_backbone_layers(self, params: list[dict], model: nn.Module) -> None:
        """Scale each backbone parameter group's lr by its layer; records ``layer_id`` and ``lr_scale``."""
        backbone, prefix = (model.backbone, 'backbone.') if hasattr(model, 'backbone') else (model, '')
        if not hasattr(backbone, 'get_layer_depth'):
            raise ValueError(f'{type(backbone).__name__} has no get_layer_depth(name, prefix): layer-wise lr decay '
                             'needs a backbone that numbers its layers (e.g. scalenet_mm.ScaleNetSwinTransformer)')
        names = {id(param): name for name, param in model.named_parameters()}
        for group in params:
            name = names[id(group['params'][0])]
            if not name.startswith(prefix):
                continue
            layer_id, num_layers = backbone.get_layer_depth(name, prefix)
            scale = self.layer_decay_rate ** (num_layers - 1 - layer_id)
            group['lr'] = group.get('lr', self.base_lr) * scale
            group['layer_id'] = layer_id
            group['lr_scale'] = scale
