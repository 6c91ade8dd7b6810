"""ImageNet in its standard layout: ``train/<wnid>/*.JPEG``; ``val/`` by class folders or with a label file."""
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.dataset import BaseDataset

from ..registry import DATASETS

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


def list_images(folder: str) -> list[str]:
    """Image file names in ``folder``, sorted."""
    return sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))


@DATASETS.register_module()
class ImageNetDataset(BaseDataset):
    """Folder-per-class image classification (ImageNet, or any data in that layout).

    Args:
        data_root: the dataset folder, holding ``train/`` and ``val/``.
        split: the sub-folder to read (``'train'``, ``'val'``, ...).
        ann_file: optional label file under ``data_root``: lines ``<relative image path> <class index>``
            (ImageNet's flat ``val/`` folder); without it ``split/<class>/`` folders give the labels.
        classes: class folder names in index order; default: the sorted folders of ``train/`` (so train
            and val agree even when ``val/`` misses a class).
        pipeline: transforms (e.g. ``scalenet_mm.TimmClassificationTransform``).
        indices: keep only the first N samples (or these indices), as mmengine's ``BaseDataset``.

    Each sample: ``img_path``, ``gt_label`` (int).
    """

    def __init__(self, data_root: str, split: str = 'train', ann_file: str = '',
                 classes: Optional[Sequence[str]] = None, pipeline: Sequence[dict] = (),
                 test_mode: bool = False, indices: Optional[int | Sequence[int]] = None,
                 lazy_init: bool = False) -> None:
        self.split = split
        self._classes = list(classes) if classes is not None else None
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=list(pipeline), test_mode=test_mode,
                         indices=indices, lazy_init=lazy_init, serialize_data=False)

    @property
    def classes(self) -> list[str]:
        if self._classes is None:
            train = osp.join(self.data_root, 'train')
            if not osp.isdir(train):
                raise FileNotFoundError(f'{train} does not exist: pass classes=[...] or set data_root to a folder '
                                        'with train/<class>/ sub-folders')
            self._classes = sorted(d for d in os.listdir(train) if osp.isdir(osp.join(train, d)))
        return self._classes

    def load_data_list(self) -> list[dict]:
        root = self.data_root
        folder = osp.join(root, self.split)
        if not osp.isdir(folder):
            raise FileNotFoundError(f'dataset split folder {folder} does not exist (data_root={root!r}, '
                                    f'split={self.split!r}): set dataset.data_root')
        self._metainfo['classes'] = tuple(self.classes)
        samples = []
        if self.ann_file:
            if not osp.isfile(self.ann_file):
                raise FileNotFoundError(f'label file {self.ann_file} (dataset.ann_file) does not exist')
            with open(self.ann_file) as handle:
                for number, line in enumerate(handle, 1):
                    parts = line.split()
                    if not parts:
                        continue
                    if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= len(self.classes):
                        raise ValueError(f'{self.ann_file}:{number}: expected "<image path> <class index < '
                                         f'{len(self.classes)}>", got {line.strip()!r}')
                    samples.append(dict(img_path=osp.join(folder, parts[0]), gt_label=int(parts[1])))
        else:
            for label, name in enumerate(self.classes):
                class_dir = osp.join(folder, name)
                if not osp.isdir(class_dir):
                    continue
                samples += [dict(img_path=osp.join(class_dir, f), gt_label=label) for f in list_images(class_dir)]
        if not samples:
            raise ValueError(f'no images found in {folder} (expected {self.split}/<class>/*.JPEG or an ann_file)')
        return samples
