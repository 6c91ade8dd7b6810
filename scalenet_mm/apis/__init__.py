"""High-level inference on a user's own images."""
from .classification_inferencer import Classification, ImageClassificationInferencer
from .strict_inferencer import strict_inferencer

__all__ = ['Classification', 'ImageClassificationInferencer', 'strict_inferencer']
