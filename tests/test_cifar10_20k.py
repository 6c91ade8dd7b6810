"""tools/dataset_converters/cifar10_20k.py on fake CIFAR-10 python archives: names and order follow the archive
(per class, through data_batch_1..5), pixels are the archive's exactly, and the check against the shipped
set's fingerprints passes for the shipped images in that order and fails, naming the file, when two are
swapped. The fingerprint list itself is rebuilt byte for byte by cifar10_20k_reference.py."""
import gzip
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, run_script

SCRIPT = 'tools/dataset_converters/cifar10_20k.py'
REFERENCE = REPO / 'tools' / 'dataset_converters' / 'cifar10_20k_reference.csv.gz'
SHIPPED = REPO.parent / 'shared' / 'data' / 'cifar10_20k'
CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']


def make_archive(folder: Path, train: list[tuple[int, np.ndarray]], test: list[tuple[int, np.ndarray]],
                 archived: bool = False) -> Path:
    """A ``cifar-10-batches-py`` folder (or ``.tar.gz``) of ``(label, 32x32x3 pixels)`` lists: the train
    images split in order over ``data_batch_1..5``."""
    batches = folder / 'cifar-10-batches-py'
    batches.mkdir(parents=True)

    def dump(name: str, images: list[tuple[int, np.ndarray]]) -> None:
        data = np.stack([pixels.transpose(2, 0, 1).reshape(-1) for _, pixels in images]).astype(np.uint8)
        batch = {b'batch_label': name.encode(), b'labels': [label for label, _ in images], b'data': data,
                 b'filenames': [f'{name}_{i}.png'.encode() for i in range(len(images))]}
        (batches / name).write_bytes(pickle.dumps(batch))

    for index, part in enumerate(np.array_split(np.arange(len(train)), 5), 1):
        dump(f'data_batch_{index}', [train[i] for i in part])
    dump('test_batch', test)
    (batches / 'batches.meta').write_bytes(pickle.dumps(
        {b'label_names': [name.encode() for name in CLASSES], b'num_cases_per_batch': 10000, b'num_vis': 3072}))
    if not archived:
        return batches
    with tarfile.open(folder / 'cifar-10-python.tar.gz', 'w:gz') as tar:
        tar.add(batches, arcname='cifar-10-batches-py')
    return folder / 'cifar-10-python.tar.gz'


@pytest.mark.parametrize('archived', [False, True], ids=['folder', 'tar.gz'])
def test_names_order_and_pixels_follow_the_archive(tmp_path, archived):
    rng = np.random.default_rng(0)
    labels = [6, 9, 9, 4, 1, 1, 2, 7, 8, 3, 0, 5] * 3 + [6, 0, 5] * 3  # each class 3+ times, across batches
    train = [(label, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for label in labels]
    test = [(label, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)) for label in range(10) for _ in range(2)]
    archive = make_archive(tmp_path / 'archive', train, test, archived)
    out = tmp_path / 'cifar10'
    result = run_script(SCRIPT, archive, '--out', out, '--per-class-train', '3', '--per-class-test', '2',
                        '--no-check')
    assert result.returncode == 0, result.stderr
    assert 'wrote 50 images' in result.stdout
    for split, images, per_class in (('train', train, 3), ('test', test, 2)):
        for label, name in enumerate(CLASSES):
            expected = [pixels for image_label, pixels in images if image_label == label][:per_class]
            files = sorted((out / split / name).iterdir())
            assert [f.name for f in files] == [f'{i:04d}.png' for i in range(per_class)]
            for path, pixels in zip(files, expected):
                assert np.array_equal(np.asarray(Image.open(path)), pixels), path
    short = run_script(SCRIPT, archive, '--out', tmp_path / 'short', '--per-class-train', '4', '--no-check')
    assert short.returncode == 1
    assert "the train split has fewer than 4 images of ['bird', 'cat', 'deer', 'horse', 'ship']" in short.stderr


def test_a_pickle_naming_other_objects_is_refused(tmp_path):
    archive = make_archive(tmp_path / 'archive', [(0, np.zeros((32, 32, 3), np.uint8))] * 5,
                           [(0, np.zeros((32, 32, 3), np.uint8))])
    (archive / 'batches.meta').write_bytes(pickle.dumps({b'label_names': [Path('x')]}))
    result = run_script(SCRIPT, archive, '--out', tmp_path / 'out', '--no-check')
    assert result.returncode == 1 and 'not pathlib' in result.stderr and 'official cifar-10-python' in result.stderr


def shipped_in_archive_order(per_class: int) -> tuple[list, list]:
    """The first ``per_class`` shipped images of each class (decoded), interleaved across classes as in an
    archive: image n of every class before image n + 1 of any."""
    def images(split: str) -> list[tuple[int, np.ndarray]]:
        return [(label, np.asarray(Image.open(SHIPPED / split / name / f'{n:04d}.jpg').convert('RGB')))
                for n in range(per_class) for label, name in enumerate(CLASSES)]
    return images('train'), images('test')


@pytest.mark.skipif(not SHIPPED.is_dir(), reason=f'the shipped cifar10_20k folder ({SHIPPED}) is not here')
def test_check_passes_for_the_shipped_images_and_fails_naming_a_swap(tmp_path):
    train, test = shipped_in_archive_order(3)
    archive = make_archive(tmp_path / 'archive', train, test)
    result = run_script(SCRIPT, archive, '--out', tmp_path / 'good', '--per-class-train', '3', '--per-class-test', '3')
    assert result.returncode == 0, result.stderr
    assert f'checked 60 images against {REFERENCE}: all match' in result.stdout
    # cat's images 1 and 2 in each other's place: the order within a class is checked
    cats = [i for i, (label, _) in enumerate(train) if label == CLASSES.index('cat')]
    train[cats[1]], train[cats[2]] = train[cats[2]], train[cats[1]]
    swapped = make_archive(tmp_path / 'swapped', train, test)
    result = run_script(SCRIPT, swapped, '--out', tmp_path / 'bad', '--per-class-train', '3', '--per-class-test', '3')
    assert result.returncode == 1 and not (tmp_path / 'bad').exists()  # checked before anything is written
    assert '2 of the 60 images checked do not match' in result.stderr and 'nothing was written' in result.stderr
    assert ('train/cat/0001.png: differs from the shipped train/cat/0001' in result.stderr
            and 'the closest shipped image of its folder is train/cat/0002' in result.stderr)


@pytest.mark.skipif(not SHIPPED.is_dir(), reason=f'the shipped cifar10_20k folder ({SHIPPED}) is not here')
def test_reference_is_rebuilt_identically_from_the_shipped_files(tmp_path):
    subset = tmp_path / 'subset'
    for split in ('train', 'test'):
        for name in CLASSES:
            (subset / split / name).mkdir(parents=True)
            for n in range(2):
                (subset / split / name / f'{n:04d}.jpg').write_bytes((SHIPPED / split / name / f'{n:04d}.jpg')
                                                                     .read_bytes())
    out = tmp_path / 'reference.csv.gz'
    result = run_script('tools/dataset_converters/cifar10_20k_reference.py', subset, '--out', out)
    assert result.returncode == 0, result.stderr
    rebuilt = gzip.decompress(out.read_bytes()).decode().splitlines()
    shipped = {line.split(',')[0]: line for line in gzip.decompress(REFERENCE.read_bytes()).decode().splitlines()}
    assert len(rebuilt) == 40 and all(shipped[line.split(',')[0]] == line for line in rebuilt)
    assert len(shipped) == 30000
