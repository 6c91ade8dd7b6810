"""A pipeline step that refuses segmentation label maps with values a dataset cannot hold."""
import numpy as np

from ..registry import TRANSFORMS


@TRANSFORMS.register_module()
class CheckSegLabels:
    """Raise ``ValueError`` naming the file when ``gt_seg_map`` has values outside ``0..num_classes-1`` and
    ``ignore_index``. Place it right after ``LoadAnnotations`` (values are then already zero-reduced:
    ADE20K's files hold 0 = other and 1..150, which become 255 and 0..149). Without a label map (mmseg's
    ``inference_model`` and ``MMSegInferencer`` remove ``LoadAnnotations``) it passes the results on.

    Args:
        num_classes: number of classes (150 for ADE20K).
        ignore_index: the ignored label (255).
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def __call__(self, results: dict) -> dict:
        if 'gt_seg_map' not in results:  # inference on unlabelled images (mmseg's APIs drop LoadAnnotations)
            return results
        values = np.unique(results['gt_seg_map'])
        bad = values[(values >= self.num_classes) & (values != self.ignore_index)]
        if bad.size:
            reduced = ' after reduce_zero_label' if results.get('reduce_zero_label') else ''
            raise ValueError(f'{results.get("seg_map_path")}: label values {bad.tolist()}{reduced} are outside '
                             f'0..{self.num_classes - 1} and {self.ignore_index}; for ADE20K the file must hold 0 '
                             '(other) and 1..150 only')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_classes={self.num_classes}, ignore_index={self.ignore_index})'
