"""Data: the ImageNet-layout dataset, timm's classification transforms, a segmentation label check."""
from .check_seg_labels import CheckSegLabels
from .image_folder_dataset import ImageNetDataset
from .timm_transforms import TimmClassificationTransform

__all__ = ['CheckSegLabels', 'ImageNetDataset', 'TimmClassificationTransform']
