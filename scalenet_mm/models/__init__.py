from .backbones import ScaleNetSwinTransformer
from .classifiers import ImageClassifier

__all__ = ['ImageClassifier', 'ScaleNetSwinTransformer']
