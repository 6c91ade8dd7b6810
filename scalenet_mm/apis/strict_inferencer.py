"""mmdet's and mmseg's inferencers, loading the checkpoint strictly.

``DetInferencer`` and ``MMSegInferencer`` load their weights non-strictly: a checkpoint of another model
gives a warning and a partly random model. The classes made here refuse it, with every missing and
unexpected key, and read the checkpoint file once.
"""
from typing import Optional

import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.infer import BaseInferencer
from mmengine.runner.checkpoint import _load_checkpoint_to_model


def strict_inferencer(inferencer_class: type[BaseInferencer]) -> type[BaseInferencer]:
    """A subclass of ``inferencer_class`` (e.g. mmdet's ``DetInferencer``) whose weights must match the
    config's model key for key and shape; it then sets the dataset meta as ``inferencer_class`` does."""

    class StrictInferencer(inferencer_class):

        def _load_weights_to_model(self, model: nn.Module, checkpoint: Optional[dict],
                                   cfg: Optional[ConfigDict]) -> None:
            if checkpoint is not None:
                _load_checkpoint_to_model(model, checkpoint, strict=True)  # RuntimeError naming the keys
            super()._load_weights_to_model(model, checkpoint, cfg)

    StrictInferencer.__name__ = StrictInferencer.__qualname__ = f'Strict{inferencer_class.__name__}'
    return StrictInferencer
