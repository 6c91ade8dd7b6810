"""High-level inference on a user's own images."""
from .classification_inferencer import Classification, ImageClassificationInferencer

__all__ = ['Classification', 'ImageClassificationInferencer']
