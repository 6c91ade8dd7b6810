"""tools/dataset_converters/imagenet_val_labels.py on a tiny fake ILSVRC2012 devkit whose ILSVRC ids are not in
sorted-WordNet-id order: the written ``meta/val.txt`` (and the class folders) give ``ImageNetDataset`` each
image's class in the sorted-wnid order, and bad devkits or missing images are refused with the reason."""
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scalenet_mm.datasets import ImageNetDataset

from conftest import run_script

SCRIPT = 'tools/dataset_converters/imagenet_val_labels.py'
# ILSVRC2012_ID -> wnid of the leaves: ids 1..4 in a hierarchy order, not the sorted-wnid order
LEAVES = {1: 'n09999999', 2: 'n01000001', 3: 'n05555555', 4: 'n02222222'}
SORTED_INDEX = {'n01000001': 0, 'n02222222': 1, 'n05555555': 2, 'n09999999': 3}
GROUND_TRUTH = [1, 2, 3, 4, 2, 1]  # ILSVRC ids of val images 1..6
EXPECTED = [SORTED_INDEX[LEAVES[i]] for i in GROUND_TRUTH]  # [3, 0, 2, 1, 0, 3]
SUBSET = ('--expect-classes', '4', '--expect-images', str(len(GROUND_TRUTH)))


def make_devkit(root: Path, leaves: dict[int, str] = LEAVES, ground_truth: list[int] = GROUND_TRUTH) -> Path:
    """``root/ILSVRC2012_devkit_t12`` with ``data/meta.mat`` (the leaves and one parent synset, the devkit's
    fields) and ``data/ILSVRC2012_validation_ground_truth.txt``."""
    from scipy.io import savemat
    fields = ['ILSVRC2012_ID', 'WNID', 'words', 'gloss', 'num_children', 'children', 'wordnet_height',
              'num_train_images']
    synsets = np.zeros(len(leaves) + 1, dtype=[(name, object) for name in fields])
    rows = [(i, wnid, f'class {wnid}', 'a leaf', 0, np.zeros(0), 0, 1300) for i, wnid in leaves.items()]
    rows.append((len(leaves) + 1, 'n00001740', 'entity', 'the root', len(leaves),
                 np.arange(1, len(leaves) + 1, dtype=float), 5, 0))
    for index, row in enumerate(rows):
        synsets[index] = row
    data = root / 'ILSVRC2012_devkit_t12' / 'data'
    data.mkdir(parents=True)
    savemat(str(data / 'meta.mat'), {'synsets': synsets})
    (data / 'ILSVRC2012_validation_ground_truth.txt').write_text(''.join(f'{i}\n' for i in ground_truth))
    return root / 'ILSVRC2012_devkit_t12'


def make_imagenet(root: Path) -> Path:
    """``root/imagenet`` with ``train/<wnid>/`` folders and a flat ``val/`` of tiny JPEGs named as ILSVRC's."""
    for wnid in LEAVES.values():
        (root / 'imagenet' / 'train' / wnid).mkdir(parents=True)
        Image.new('RGB', (8, 8)).save(root / 'imagenet' / 'train' / wnid / 'x.JPEG')
    val = root / 'imagenet' / 'val'
    val.mkdir()
    for number in range(1, len(GROUND_TRUTH) + 1):
        Image.new('RGB', (8, 8), (number, 0, 0)).save(val / f'ILSVRC2012_val_{number:08d}.JPEG')
    return root / 'imagenet'


def labels_by_file(dataset: ImageNetDataset) -> dict[str, int]:
    return {Path(dataset.get_data_info(i)['img_path']).name: dataset.get_data_info(i)['gt_label']
            for i in range(len(dataset))}


@pytest.mark.parametrize('archived', [False, True], ids=['folder', 'tar.gz'])
def test_written_val_txt_gives_the_dataset_sorted_wnid_labels(tmp_path, archived):
    devkit = make_devkit(tmp_path / 'devkit')
    if archived:
        with tarfile.open(tmp_path / 'ILSVRC2012_devkit_t12.tar.gz', 'w:gz') as archive:
            archive.add(devkit, arcname='ILSVRC2012_devkit_t12')
        devkit = tmp_path / 'ILSVRC2012_devkit_t12.tar.gz'
    data_root = make_imagenet(tmp_path)
    out = data_root / 'meta' / 'val.txt'
    result = run_script(SCRIPT, devkit, '--out', out, '--val-dir', data_root / 'val', *SUBSET)
    assert result.returncode == 0, result.stderr
    assert 'wrote' in result.stdout and '6 images, 4 classes' in result.stdout
    assert out.read_text().splitlines() == [f'ILSVRC2012_val_{n:08d}.JPEG {label}'
                                            for n, label in enumerate(EXPECTED, 1)]
    dataset = ImageNetDataset(str(data_root), split='val', ann_file='meta/val.txt', test_mode=True)
    assert dataset.metainfo['classes'] == tuple(sorted(LEAVES.values()))
    assert labels_by_file(dataset) == {f'ILSVRC2012_val_{n:08d}.JPEG': label for n, label in enumerate(EXPECTED, 1)}


def test_class_folders_need_no_label_file_and_agree_with_it(tmp_path):
    devkit = make_devkit(tmp_path / 'devkit')
    data_root = make_imagenet(tmp_path)
    out = data_root / 'meta' / 'val.txt'
    result = run_script(SCRIPT, devkit, '--out', out, '--val-dir', data_root / 'val', '--class-folders', *SUBSET)
    assert result.returncode == 0, result.stderr
    assert not list((data_root / 'val').glob('*.JPEG'))  # all moved
    assert (data_root / 'val' / 'n09999999' / 'ILSVRC2012_val_00000001.JPEG').is_file()
    by_folders = labels_by_file(ImageNetDataset(str(data_root), split='val', test_mode=True))
    by_file = labels_by_file(ImageNetDataset(str(data_root), split='val', ann_file='meta/val.txt', test_mode=True))
    assert by_folders == by_file == {f'ILSVRC2012_val_{n:08d}.JPEG': label for n, label in enumerate(EXPECTED, 1)}
    again = run_script(SCRIPT, devkit, '--out', out, '--val-dir', data_root / 'val', '--class-folders', *SUBSET)
    assert again.returncode == 0, again.stderr  # a second run finds the images in their folders


def test_devkit_without_the_expected_classes_or_labels_is_refused(tmp_path):
    devkit = make_devkit(tmp_path / 'devkit')
    result = run_script(SCRIPT, devkit, '--out', tmp_path / 'val.txt')  # the defaults: 1000 classes
    assert result.returncode == 1
    assert 'has 4 leaf synsets with ids 1..4, expected 1000 with ids 1..1000' in result.stderr
    result = run_script(SCRIPT, devkit, '--out', tmp_path / 'val.txt', '--expect-classes', '4')
    assert result.returncode == 1 and 'has 6 labels, expected 50000' in result.stderr
    bad = make_devkit(tmp_path / 'bad', ground_truth=[1, 2, 7])
    result = run_script(SCRIPT, bad, '--out', tmp_path / 'val.txt', '--expect-classes', '4', '--expect-images', '3')
    assert result.returncode == 1 and "line 3: '7' is not an ILSVRC2012 id 1..4" in result.stderr
    result = run_script(SCRIPT, tmp_path, '--out', tmp_path / 'val.txt')
    assert result.returncode == 1 and 'has no data/meta.mat' in result.stderr
    assert not (tmp_path / 'val.txt').exists()


def test_missing_images_or_other_train_classes_are_named(tmp_path):
    devkit = make_devkit(tmp_path / 'devkit')
    data_root = make_imagenet(tmp_path)
    (data_root / 'val' / 'ILSVRC2012_val_00000005.JPEG').unlink()
    result = run_script(SCRIPT, devkit, '--out', tmp_path / 'val.txt', '--val-dir', data_root / 'val', *SUBSET)
    assert result.returncode == 1
    assert "1 of 6 validation images are not in" in result.stderr and 'ILSVRC2012_val_00000005.JPEG' in result.stderr
    (data_root / 'train' / 'n01000001').rename(data_root / 'train' / 'n01000002')
    result = run_script(SCRIPT, devkit, '--out', tmp_path / 'val.txt', '--val-dir', data_root / 'val', *SUBSET)
    assert result.returncode == 1 and "missing e.g. ['n01000001'], extra e.g. ['n01000002']" in result.stderr
    assert not (tmp_path / 'val.txt').exists()
