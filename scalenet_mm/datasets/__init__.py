"""Classification data: the ImageNet-layout dataset and timm's train/eval transforms (imports timm)."""
from .image_folder_dataset import ImageNetDataset
from .timm_transforms import TimmClassificationTransform

__all__ = ['ImageNetDataset', 'TimmClassificationTransform']
