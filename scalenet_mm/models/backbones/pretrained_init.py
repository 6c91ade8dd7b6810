"""``init_weights`` of our backbones: their own random init, or a strict pretrained load with a report."""
from mmengine.logging import MMLogger

from ...checkpoint.load import load_pretrained


class PretrainedInit:
    """Mixin for a ``BaseModule`` backbone that defines ``random_init()`` and keeps a validated ``init_cfg``
    (None, or ``dict(type='Pretrained', checkpoint=..., prefix=...)``)."""

    def init_weights(self) -> None:
        """Random init, or a strict load of ``init_cfg``'s checkpoint (see :func:`load_pretrained`) logged."""
        if self.init_cfg is None:
            self.random_init()
        else:
            report = load_pretrained(self, self.init_cfg['checkpoint'], prefix=self.init_cfg.get('prefix'))
            MMLogger.get_current_instance().info(report.summary())
        self._is_init = True
