from .scalenet_swin import ScaleNetSwinTransformer
from .scalenet_vit import ScaleNetVisionTransformer

__all__ = ['ScaleNetSwinTransformer', 'ScaleNetVisionTransformer']
