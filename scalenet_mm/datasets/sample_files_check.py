"""Check every image and segmentation-map file of a dataset before training, naming the sample that is bad.

A corrupt file otherwise surfaces hours into a run, as a traceback from a data-loader worker that names the
file at best and never the sample. :func:`check_sample_files` opens every ``img_path`` and ``seg_map_path``
of a dataset's samples (mmdet, mmseg and our classification datasets alike) and raises on the first file that
is missing, empty, not an image, or visibly truncated, with the dataset, the sample index and the path.

The check reads headers, not pixels, so that it costs seconds on COCO: PIL identifies the format and size
(``Image.open``), PNG files are verified whole (``verify`` checks every chunk's CRC) and JPEG files must end
with their end-of-image marker. A file damaged inside its JPEG entropy-coded data passes it, and then fails
where it is decoded.
"""
import os.path as osp
from typing import Any, Iterator, Optional

from PIL import Image

FILE_KEYS = ('img_path', 'seg_map_path')
JPEG_END = b'\xff\xd9'


def image_file_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a readable image file, or ``None``."""
    if not osp.isfile(path):
        return 'the file does not exist'
    if osp.getsize(path) == 0:
        return 'the file is empty'
    try:
        with Image.open(path) as image:
            image_format = image.format
            image.verify()
    except Exception as error:  # noqa: BLE001  (PIL raises many types for bad files: each is the answer)
        return f'it is not a readable image ({type(error).__name__}: {error})'
    if image_format == 'JPEG':
        with open(path, 'rb') as f:
            f.seek(max(0, osp.getsize(path) - 1024))
            if JPEG_END not in f.read():
                return 'the JPEG file has no end-of-image marker (truncated?)'
    return None


def leaf_datasets(dataset: Any) -> Iterator[Any]:
    """The datasets inside Concat/Repeat/ClassBalanced wrappers (or the dataset itself)."""
    if hasattr(dataset, 'datasets'):
        for child in dataset.datasets:
            yield from leaf_datasets(child)
    elif hasattr(dataset, 'dataset'):
        yield from leaf_datasets(dataset.dataset)
    else:
        yield dataset


def check_sample_files(dataset: Any, name: str) -> int:
    """Raise ``ValueError`` naming ``name``, the dataset type, the sample index and the path of the first bad
    file (module docstring); returns how many files were checked."""
    checked = 0
    for leaf in leaf_datasets(dataset):
        if not hasattr(leaf, 'get_data_info'):
            continue
        count = len(leaf)
        for index in range(count):
            info = leaf.get_data_info(index)
            for key in FILE_KEYS:
                path = info.get(key)
                if path is None or '://' in str(path):
                    continue
                problem = image_file_problem(str(path))
                if problem is not None:
                    raise ValueError(f'{name}: sample {index} of {count} in {type(leaf).__name__}: cannot read image '
                                     f'{path} ({key}): {problem}. Replace or remove the file, or drop the sample '
                                     'from the annotations.')
                checked += 1
    return checked
