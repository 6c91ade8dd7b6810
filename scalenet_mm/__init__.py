"""scalenet_mm: ScaleNet (weight-shared, adapter-augmented deeper Swin and ViT) backbones for OpenMMLab.

Importing the package (directly or through ``custom_imports=dict(imports=['scalenet_mm'])``):

- registers the ``scalenet_mm`` scope and its modules (``type='scalenet_mm.ScaleNetSwinTransformer'``);
- allow-lists the globals that mmengine-written checkpoints need under torch's safe loading.
"""
from .checkpoint.safe_loading import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

from . import engine, models  # noqa: E402,F401  (register our modules in the scalenet_mm scope)
from .models import ScaleNetSwinTransformer, ScaleNetVisionTransformer  # noqa: E402

__all__ = ['ScaleNetSwinTransformer', 'ScaleNetVisionTransformer', '__version__']
