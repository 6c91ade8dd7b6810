"""Checks of a config's data paths before a Runner is built, with errors that name the key to set."""
import os.path as osp
from typing import Any, Iterator

from mmengine.config import Config

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _datasets(dataset: dict, key: str) -> Iterator[tuple[str, dict]]:
    """Leaf dataset configs with their config keys, through Concat/Repeat/ClassBalanced wrappers."""
    if 'datasets' in dataset:
        for index, child in enumerate(dataset['datasets']):
            yield from _datasets(child, f'{key}.datasets.{index}')
    elif 'dataset' in dataset and isinstance(dataset['dataset'], dict):
        yield from _datasets(dataset['dataset'], f'{key}.dataset')
    else:
        yield key, dataset


def check_data_paths(cfg: Config, loaders: tuple[str, ...] = DATALOADERS) -> None:
    """Raise ``FileNotFoundError`` naming the config key and path of any missing data root, folder or file."""
    for loader in loaders:
        loader_cfg: Any = cfg.get(loader)
        if not loader_cfg or 'dataset' not in loader_cfg:
            continue
        for key, dataset in _datasets(loader_cfg['dataset'], f'{loader}.dataset'):
            root = dataset.get('data_root') or ''
            if root and not osp.isdir(root):
                raise FileNotFoundError(f'{key}.data_root={root!r} does not exist: set it to your dataset folder, '
                                        f'e.g. --cfg-options {key}.data_root=/path/to/data')
            paths = [('ann_file', dataset.get('ann_file'))]
            paths += [(f'data_prefix.{name}', value) for name, value in (dataset.get('data_prefix') or {}).items()]
            for name, value in paths:
                if not value or '://' in str(value):
                    continue
                path = osp.join(root, value)
                if not osp.exists(path):
                    raise FileNotFoundError(f'{key}.{name}={value!r} (under data_root {root!r}) does not exist: '
                                            f'{path}; set {key}.{name} or {key}.data_root')
