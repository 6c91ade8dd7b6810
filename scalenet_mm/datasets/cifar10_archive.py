"""The CIFAR-10 python archive (``cifar-10-python.tar.gz``) as class folders in the archive's order.

The archive holds ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5`` (50,000 training images),
``test_batch`` (10,000) and ``batches.meta`` (the class names), each a pickled dict with ``b'data'``
(N x 3072 uint8: the 1024 red, then green, then blue values of a 32x32 image, row-major) and ``b'labels'``.
An image's name is its running index within its class, in batch order: the first ``cat`` of
``data_batch_1`` is ``train/cat/0000``, and the count goes on through ``data_batch_2`` and on.
"""
import io
import os
import os.path as osp
import pickle
import tarfile
from typing import IO, Iterator, NamedTuple, Optional

import numpy as np
from PIL import Image

BATCH_DIR = 'cifar-10-batches-py'
SPLIT_BATCHES = {'train': tuple(f'data_batch_{i}' for i in range(1, 6)), 'test': ('test_batch',)}
# what a CIFAR-10 pickle may name: numpy's array reconstruction (the data) and nothing else
_ALLOWED_GLOBALS = {('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
                    ('numpy', 'ndarray'), ('numpy', 'dtype')}


class ArchiveImage(NamedTuple):
    """One image of a split: its class name, index within the class, and 32x32x3 uint8 RGB pixels."""
    class_name: str
    index: int
    pixels: np.ndarray


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles a CIFAR-10 batch, refusing any other object (a pickle can run code)."""

    def find_class(self, module: str, name: str):  # noqa: ANN201  (pickle's signature)
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f'a CIFAR-10 batch holds only bytes, lists and numpy arrays, not '
                                         f'{module}.{name}: is this the official cifar-10-python.tar.gz?')
        return super().find_class(module, name)


def _open_member(archive: str, name: str) -> IO[bytes]:
    """``cifar-10-batches-py/<name>`` from the ``.tar.gz`` or the extracted folder (or its parent)."""
    if osp.isdir(archive):
        for candidate in (osp.join(archive, name), osp.join(archive, BATCH_DIR, name)):
            if osp.isfile(candidate):
                with open(candidate, 'rb') as handle:
                    return io.BytesIO(handle.read())
        raise FileNotFoundError(f'{archive} has no {name} (nor {BATCH_DIR}/{name}): pass cifar-10-python.tar.gz or '
                                f'the {BATCH_DIR} folder extracted from it')
    if osp.isfile(archive) and tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            try:
                return io.BytesIO(tar.extractfile(f'{BATCH_DIR}/{name}').read())
            except KeyError:
                raise FileNotFoundError(f'{archive} holds no {BATCH_DIR}/{name}: is it the CIFAR-10 *python* '
                                        'version, cifar-10-python.tar.gz?') from None
    raise FileNotFoundError(f'{archive!r} is neither a folder nor a tar archive: pass cifar-10-python.tar.gz')


def _load(archive: str, name: str) -> dict:
    return _BatchUnpickler(_open_member(archive, name), encoding='bytes').load()


def class_names(archive: str) -> list[str]:
    """The class names of ``batches.meta``, in label order (airplane, automobile, ...)."""
    return [name.decode() for name in _load(archive, 'batches.meta')[b'label_names']]


def split_images(archive: str, split: str, per_class: Optional[int] = None) -> Iterator[ArchiveImage]:
    """The images of ``split`` (``'train'`` or ``'test'``) in archive order, the first ``per_class`` of each
    class (all when None)."""
    if split not in SPLIT_BATCHES:
        raise ValueError(f'split={split!r}: use one of {tuple(SPLIT_BATCHES)}')
    names = class_names(archive)
    counts = [0] * len(names)
    for batch_name in SPLIT_BATCHES[split]:
        if per_class is not None and min(counts) >= per_class:
            return
        batch = _load(archive, batch_name)
        data, labels = np.asarray(batch[b'data'], dtype=np.uint8), batch[b'labels']
        if data.shape != (len(labels), 3072):
            raise ValueError(f'{archive}: {batch_name} holds data of shape {data.shape} for {len(labels)} labels, '
                             'expected (N, 3072)')
        for row, label in zip(data, labels):
            if per_class is None or counts[label] < per_class:
                yield ArchiveImage(names[label], counts[label], row.reshape(3, 32, 32).transpose(1, 2, 0))
            counts[label] += 1
    short = [name for name, count in zip(names, counts) if per_class is not None and count < per_class]
    if short:
        raise ValueError(f'{archive}: the {split} split has fewer than {per_class} images of {short}')


def image_path(split: str, image: ArchiveImage) -> str:
    """``<split>/<class>/NNNN.png``: where :func:`write_images` puts ``image``."""
    return osp.join(split, image.class_name, f'{image.index:04d}.png')


def write_images(images: dict[str, ArchiveImage], out_dir: str) -> None:
    """Write ``{relative path: image}`` under ``out_dir`` as lossless PNGs."""
    for relative, image in images.items():
        os.makedirs(osp.dirname(osp.join(out_dir, relative)), exist_ok=True)
        Image.fromarray(image.pixels).save(osp.join(out_dir, relative))
