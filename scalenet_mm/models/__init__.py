from .backbones import ScaleNetSwinTransformer, ScaleNetVisionTransformer
from .classifiers import ImageClassifier

__all__ = ['ImageClassifier', 'ScaleNetSwinTransformer', 'ScaleNetVisionTransformer']
