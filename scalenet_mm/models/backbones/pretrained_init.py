"""``init_weights`` of our backbones: their own random init, or a strict pretrained load with a report."""
import torch.nn as nn
from mmengine.logging import MMLogger
from mmengine.model.weight_init import trunc_normal_

from ..scaling.trainable import start_as_source


def init_linears_and_norms(module: nn.Module) -> None:
    """Truncated-normal (std 0.02) weights and zero biases of every ``nn.Linear``; unit, zero-bias LayerNorms."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            trunc_normal_(sub.weight, std=0.02)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)


class PretrainedInit:
    """Mixin for a ``BaseModule`` backbone that defines ``random_init()`` and keeps a validated ``init_cfg``
    (None, or ``dict(type='Pretrained', checkpoint=..., prefix=...)``)."""

    def init_weights(self) -> None:
        """Random init, or a strict load of ``init_cfg``'s checkpoint (see :func:`load_pretrained`) logged."""
        if self.init_cfg is None:
            self.random_init()
        else:
            # imported here: the checkpoint code reads models.scaling, so models cannot import it at load time
            from ...checkpoint.load import load_pretrained
            report = load_pretrained(self, self.init_cfg['checkpoint'], prefix=self.init_cfg.get('prefix'))
            MMLogger.get_current_instance().info(report.summary())
        self._is_init = True

    def start_as_source(self) -> None:
        """Every position computes its block's function, or the identity where it is gated (zero adapters and
        gates, per-position norms copied from the blocks)."""
        start_as_source(self)
