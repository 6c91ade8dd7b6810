from .scalenet_swin import ScaleNetSwinTransformer

__all__ = ['ScaleNetSwinTransformer']
