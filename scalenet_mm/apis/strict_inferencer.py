"""mmdet's and mmseg's inferencers, loading the checkpoint strictly, delta checkpoints completed.

``DetInferencer`` and ``MMSegInferencer`` load their weights non-strictly: a checkpoint of another model
gives a warning and a partly random model. The classes made here refuse it, with every missing and
unexpected key, and read the checkpoint file once. A delta checkpoint (:mod:`scalenet_mm.checkpoint.delta`) is
completed from its base file first (``delta_base=PATH`` when the base moved).
"""
import inspect
from typing import Any, Optional

import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.infer import BaseInferencer
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..checkpoint.delta import complete_delta, is_delta


def strict_inferencer(inferencer_class: type[BaseInferencer]) -> type[BaseInferencer]:
    """A subclass of ``inferencer_class`` (e.g. mmdet's ``DetInferencer``) whose weights must match the
    config's model key for key and shape; it then sets the dataset meta as ``inferencer_class`` does. It takes
    ``inferencer_class``'s arguments and ``delta_base``: where a delta checkpoint's base file is, if it moved."""

    class StrictInferencer(inferencer_class):

        def __init__(self, *args: Any, delta_base: Optional[str] = None, **kwargs: Any) -> None:
            self.delta_base = delta_base
            self.weights_name = str(inspect.signature(inferencer_class.__init__).bind(self, *args, **kwargs)
                                    .arguments.get('weights'))
            super().__init__(*args, **kwargs)

        def _load_weights_to_model(self, model: nn.Module, checkpoint: Optional[dict],
                                   cfg: Optional[ConfigDict]) -> None:
            if checkpoint is not None:
                if is_delta(checkpoint):
                    complete_delta(model, checkpoint, self.weights_name, self.delta_base)
                _load_checkpoint_to_model(model, checkpoint, strict=True)  # RuntimeError naming the keys
            super()._load_weights_to_model(model, checkpoint, cfg)

    StrictInferencer.__name__ = StrictInferencer.__qualname__ = f'Strict{inferencer_class.__name__}'
    return StrictInferencer
