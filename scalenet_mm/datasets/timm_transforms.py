"""timm's ImageNet train/eval transforms as an mmengine transform.

Training: random resized crop (bicubic), horizontal flip, RandAugment ``rand-m9-mstd0.5``, normalisation,
random erasing (0.25, per-pixel). Evaluation: resize to ``input_size / crop_pct`` (256 for 224), centre
crop, normalisation. Output: ``inputs`` float tensor ``(3, H, W)`` already normalised, ``data_samples``
with ``img_path`` and, when the results carry one, ``gt_label``.
"""
from typing import Optional

import torch
from mmengine.structures import BaseDataElement
from PIL import Image, UnidentifiedImageError

from ..registry import TRANSFORMS


@TRANSFORMS.register_module()
class TimmClassificationTransform:
    """Load the image at ``img_path`` and apply timm's ``create_transform``.

    Args:
        training: the training transform (augmentation) or the evaluation one.
        input_size: output side in pixels.
        scale: area range of the training random resized crop (timm's ``(0.08, 1.0)``).
        auto_augment: timm RandAugment spec (training only).
        re_prob: random-erasing probability (training only).
        crop_pct: evaluation centre-crop fraction (``224 / 256``).
        interpolation: resize interpolation.
        mean, std: normalisation, in [0, 1] units (ImageNet's by default).
    """

    def __init__(self, training: bool, input_size: int = 224, scale: tuple[float, float] = (0.08, 1.0),
                 auto_augment: Optional[str] = 'rand-m9-mstd0.5',
                 re_prob: float = 0.25, crop_pct: float = 224 / 256, interpolation: str = 'bicubic',
                 mean: tuple[float, ...] = (0.485, 0.456, 0.406), std: tuple[float, ...] = (0.229, 0.224, 0.225)
                 ) -> None:
        from timm.data import create_transform
        self.transform = create_transform(
            input_size, is_training=training, scale=tuple(scale), auto_augment=auto_augment if training else None,
            re_prob=re_prob if training else 0.0, re_mode='pixel', crop_pct=crop_pct, interpolation=interpolation,
            mean=mean, std=std)

    def __call__(self, results: dict) -> dict:
        try:
            with Image.open(results['img_path']) as image:
                tensor = self.transform(image.convert('RGB'))
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f'cannot read image {results["img_path"]}: {exc}') from exc
        sample = BaseDataElement(img_path=results['img_path'])
        if 'gt_label' in results:  # absent at inference on unlabelled images
            sample.gt_label = torch.tensor(results['gt_label'])
        return dict(inputs=tensor, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.transform})'
