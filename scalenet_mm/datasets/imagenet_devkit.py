"""ImageNet-1k validation labels from the official ILSVRC2012 devkit, in the class order our dataset uses.

The devkit (``ILSVRC2012_devkit_t12.tar.gz``) numbers classes by ILSVRC2012 id (1..1000, a WordNet-hierarchy
order); ``ImageNetDataset`` numbers them by position in the sorted list of WordNet ids (the ``train/`` folder
names). This module reads the devkit and translates.
"""
import io
import os
import os.path as osp
import tarfile
from typing import IO, NamedTuple

META_FILE = 'data/meta.mat'
GROUND_TRUTH_FILE = 'data/ILSVRC2012_validation_ground_truth.txt'


class ValLabel(NamedTuple):
    """One validation image: its file name, WordNet id and class index in sorted-wnid order."""
    file_name: str
    wnid: str
    label: int


def val_file_name(number: int) -> str:
    """The file name of validation image ``number`` (1-based): ``ILSVRC2012_val_00000001.JPEG``."""
    return f'ILSVRC2012_val_{number:08d}.JPEG'


def _open_devkit_file(devkit: str, relative: str) -> IO[bytes]:
    """``relative`` (e.g. ``data/meta.mat``) from the devkit folder or ``.tar.gz``, as a binary stream."""
    if osp.isdir(devkit):
        for candidate in (osp.join(devkit, relative), osp.join(devkit, 'ILSVRC2012_devkit_t12', relative)):
            if osp.isfile(candidate):
                with open(candidate, 'rb') as handle:
                    return io.BytesIO(handle.read())
        raise FileNotFoundError(f'{devkit} has no {relative}: pass the extracted ILSVRC2012_devkit_t12 folder '
                                '(holding data/meta.mat) or ILSVRC2012_devkit_t12.tar.gz')
    if osp.isfile(devkit) and tarfile.is_tarfile(devkit):
        with tarfile.open(devkit) as archive:
            for member in archive.getmembers():
                if member.isfile() and member.name.endswith('/' + relative):
                    return io.BytesIO(archive.extractfile(member).read())
        raise FileNotFoundError(f'{devkit} holds no */{relative}: is it ILSVRC2012_devkit_t12.tar.gz ("Development '
                                'kit (Task 1 & 2)")?')
    raise FileNotFoundError(f'devkit {devkit!r} is neither a folder nor a tar archive: pass '
                            'ILSVRC2012_devkit_t12.tar.gz or its extracted folder')


def leaf_wnids_by_ilsvrc_id(devkit: str, expect_classes: int = 1000) -> dict[int, str]:
    """``{ILSVRC2012_ID: wnid}`` of the devkit's leaf synsets (``num_children == 0``), which must be exactly
    ``expect_classes`` with ids ``1..expect_classes``."""
    from scipy.io import loadmat  # scipy comes with mmdet; only this converter needs it
    synsets = loadmat(_open_devkit_file(devkit, META_FILE), squeeze_me=True)['synsets']
    leaves = {int(ilsvrc_id): str(wnid) for ilsvrc_id, wnid, children in
              zip(synsets['ILSVRC2012_ID'], synsets['WNID'], synsets['num_children']) if int(children) == 0}
    if sorted(leaves) != list(range(1, expect_classes + 1)):
        raise ValueError(f'{devkit}: {META_FILE} has {len(leaves)} leaf synsets with ids {min(leaves, default=None)}'
                         f'..{max(leaves, default=None)}, expected {expect_classes} with ids 1..{expect_classes} '
                         '(the ILSVRC2012 devkit has 1000)')
    if len(set(leaves.values())) != len(leaves):
        raise ValueError(f'{devkit}: {META_FILE} names a WordNet id twice among its leaf synsets')
    return leaves


def val_labels(devkit: str, expect_classes: int = 1000, expect_images: int = 50000) -> list[ValLabel]:
    """Every validation image of the devkit's ground truth with its sorted-wnid class index."""
    wnids = leaf_wnids_by_ilsvrc_id(devkit, expect_classes)
    index = {wnid: label for label, wnid in enumerate(sorted(wnids.values()))}
    lines = _open_devkit_file(devkit, GROUND_TRUTH_FILE).read().decode().split()
    if len(lines) != expect_images:
        raise ValueError(f'{devkit}: {GROUND_TRUTH_FILE} has {len(lines)} labels, expected {expect_images} (the '
                         'ILSVRC2012 validation set has 50000)')
    labels = []
    for number, text in enumerate(lines, 1):
        if not text.isdigit() or int(text) not in wnids:
            raise ValueError(f'{devkit}: {GROUND_TRUTH_FILE} line {number}: {text!r} is not an ILSVRC2012 id '
                             f'1..{expect_classes}')
        wnid = wnids[int(text)]
        labels.append(ValLabel(val_file_name(number), wnid, index[wnid]))
    return labels


def check_train_classes(train_dir: str, labels: list[ValLabel]) -> None:
    """Fail when ``train_dir``'s class folders are not the devkit's WordNet ids (the indices would disagree)."""
    folders = {d for d in os.listdir(train_dir) if osp.isdir(osp.join(train_dir, d))}
    wnids = {label.wnid for label in labels}
    if folders != wnids:
        raise ValueError(f'{train_dir} has {len(folders)} class folders, not the devkit\'s {len(wnids)} WordNet ids '
                         f'(missing e.g. {sorted(wnids - folders)[:3]}, extra e.g. {sorted(folders - wnids)[:3]}): '
                         'class indices follow the sorted train/ folders, so they must be the same set')


def locate_val_images(val_dir: str, labels: list[ValLabel]) -> list[str]:
    """Each image's path relative to ``val_dir``: flat (``<file>``) or already in its class folder
    (``<wnid>/<file>``). Fails naming the missing files."""
    paths, missing = [], []
    for item in labels:
        for relative in (item.file_name, osp.join(item.wnid, item.file_name)):
            if osp.isfile(osp.join(val_dir, relative)):
                paths.append(relative)
                break
        else:
            missing.append(item.file_name)
    if missing:
        raise FileNotFoundError(f'{len(missing)} of {len(labels)} validation images are not in {val_dir} (flat or '
                                f'in <wnid>/ folders), e.g. {missing[:3]}: pass the folder of '
                                'ILSVRC2012_img_val.tar\'s images')
    return paths


def move_into_class_folders(val_dir: str, labels: list[ValLabel], paths: list[str]) -> list[str]:
    """Move each flat image into ``val_dir/<wnid>/``; return the new relative paths."""
    moved = []
    for item, relative in zip(labels, paths):
        target = osp.join(item.wnid, item.file_name)
        if relative != target:
            os.makedirs(osp.join(val_dir, item.wnid), exist_ok=True)
            os.replace(osp.join(val_dir, relative), osp.join(val_dir, target))
        moved.append(target)
    return moved


def write_label_file(path: str, labels: list[ValLabel], paths: list[str]) -> None:
    """Write ``<path relative to val/> <class index>`` lines (``ImageNetDataset``'s ``ann_file``)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as handle:
        handle.writelines(f'{relative} {item.label}\n' for item, relative in zip(labels, paths))
