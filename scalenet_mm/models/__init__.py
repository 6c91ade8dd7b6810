from .backbones import ScaleNetSwinTransformer

__all__ = ['ScaleNetSwinTransformer']
