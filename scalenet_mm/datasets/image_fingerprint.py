"""A 16-number fingerprint of a 32x32 image that survives JPEG re-encoding, and lists of them for a folder.

The fingerprint is the mean luma (ITU-R BT.601 Y, 0..255) of each 8x8 block: JPEG's own blocks, whose mean
is their DC coefficient, quantised in steps of about 1 at quality 75; chroma subsampling does not touch it.
For a JPEG the decoder's Y plane is used as it is, so no colour conversion is rounded or clipped.
"""
import csv
import gzip
import io
import os
import os.path as osp
from typing import Iterable

import numpy as np
from PIL import Image

IMAGE_SIZE = 32
BLOCK = 8


def luma_fingerprint(luma: np.ndarray) -> np.ndarray:
    """The 4x4 block means of a 32x32 luma plane, flattened (16 floats)."""
    if luma.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f'expected a {IMAGE_SIZE}x{IMAGE_SIZE} image, got {luma.shape}')
    blocks = IMAGE_SIZE // BLOCK
    return luma.astype(np.float64).reshape(blocks, BLOCK, blocks, BLOCK).mean(axis=(1, 3)).ravel()


def rgb_fingerprint(pixels: np.ndarray) -> np.ndarray:
    """The fingerprint of H x W x 3 uint8 RGB pixels (Y = 0.299 R + 0.587 G + 0.114 B)."""
    rgb = pixels.astype(np.float64)
    return luma_fingerprint(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])


def file_fingerprint(path: str) -> np.ndarray:
    """The fingerprint of an image file: a JPEG's decoded Y plane, any other format's RGB pixels."""
    with Image.open(path) as image:
        if image.format == 'JPEG':
            image.draft('YCbCr', image.size)  # the decoder's own Y plane, before any RGB conversion
            if image.mode == 'YCbCr':
                return luma_fingerprint(np.asarray(image)[..., 0])
        return rgb_fingerprint(np.asarray(image.convert('RGB')))


def image_files(folder: str) -> list[str]:
    """Paths relative to ``folder`` of its ``<split>/<class>/<name>`` images, sorted."""
    found = []
    for root, _, files in os.walk(folder):
        found += [osp.relpath(osp.join(root, f), folder) for f in files
                  if f.lower().endswith(('.jpg', '.jpeg', '.png'))]
    return sorted(found)


def write_reference(folder: str, out: str) -> int:
    """Write ``out`` (gzipped CSV: relative path, 16 block means in tenths) for every image of ``folder``;
    return the number of images."""
    paths = image_files(folder)
    # no time stamp or file name in the gzip header: the same folder gives the same bytes
    with open(out, 'wb') as raw, gzip.GzipFile(filename='', fileobj=raw, mode='wb', mtime=0) as packed, \
            io.TextIOWrapper(packed, newline='') as handle:
        writer = csv.writer(handle)
        for relative in paths:
            values = np.rint(file_fingerprint(osp.join(folder, relative)) * 10).astype(int)
            writer.writerow([relative.replace(os.sep, '/'), ' '.join(map(str, values))])
    return len(paths)


def read_reference(path: str) -> dict[str, np.ndarray]:
    """``{relative path without extension: fingerprint}`` from a file of :func:`write_reference`."""
    with gzip.open(path, 'rt', newline='') as handle:
        return {osp.splitext(relative)[0]: np.array(values.split(), dtype=np.float64) / 10
                for relative, values in csv.reader(handle)}


def reference_mismatches(fingerprints: Iterable[tuple[str, np.ndarray]], reference: dict[str, np.ndarray],
                         tolerance: float, loose_tolerance: float) -> list[str]:
    """One line per image that does not match its reference entry (same relative path, any extension).

    An image matches when its largest block difference is at most ``tolerance``, or at most ``loose_tolerance``
    and smaller than to every other reference image of its folder. Images the reference lacks are not checked.
    """
    by_folder: dict[str, list[str]] = {}
    for key in reference:
        by_folder.setdefault(osp.dirname(key), []).append(key)
    problems = []
    for relative, fingerprint in fingerprints:
        key = osp.splitext(relative.replace(os.sep, '/'))[0]
        if key not in reference:
            continue
        distance = float(np.abs(fingerprint - reference[key]).max())
        if distance <= tolerance:
            continue
        others = by_folder[osp.dirname(key)]
        distances = np.abs(np.stack([reference[k] for k in others]) - fingerprint).max(axis=1)
        closest = others[int(distances.argmin())]
        if distance <= loose_tolerance and closest == key:
            continue
        problems.append(f'{relative}: differs from the shipped {key} by {distance:.1f} (tolerance {tolerance:g}); '
                        f'the closest shipped image of its folder is {closest} ({float(distances.min()):.1f})')
    return problems
