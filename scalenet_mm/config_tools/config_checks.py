"""Checks of a config before a Runner is built (and writes its work dir), with errors that name the key to set."""
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
                if name == 'ann_file' and path.endswith('.json'):
                    check_json_annotation(path, f'{key}.ann_file')


def check_json_annotation(path: str, key: str) -> None:
    """Cheap check that a ``.json`` annotation file is JSON (first/last bytes), before a long parse."""
    with open(path, 'rb') as f:
        head = f.read(64).lstrip()
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 64))
        tail = f.read().rstrip()
    if not head or head[:1] not in b'{[' or tail[-1:] not in b'}]':
        raise ValueError(f'{key}={path!r} is not a JSON file (it starts with {head[:16]!r} and ends with '
                         f'{tail[-16:]!r}); is it truncated or in another format?')


def check_load_from(cfg: Config) -> None:
    """``load_from`` (``--resume CKPT``, the tested checkpoint) must load safely and hold finite weights."""
    from ..checkpoint.load import extract_state_dict, non_finite_keys, read_checkpoint
    path = cfg.get('load_from')
    if not path or '://' in str(path):
        return
    state = extract_state_dict(read_checkpoint(path))
    if not state:
        raise ValueError(f'load_from={path!r} holds no tensors')
    bad = non_finite_keys(state)
    if bad:
        raise ValueError(f'load_from={path!r} has NaN/Inf values in {len(bad)} tensor(s): {bad[:5]}; refusing it')


def check_model(cfg: Config, pretrained_backbone: bool = True) -> None:
    """Build the model once (unknown or misspelt arguments fail here) and, with ``pretrained_backbone``, load
    the backbone's local pretrained checkpoint into it (format, architecture, NaN checks), so a bad request
    fails before a work dir is written. The model is discarded."""
    from ..checkpoint.load import load_pretrained
    from ..models.scaling.scalenet_backbone import ScaleNetBackbone
    from .backbone_config import build_model
    model = build_model(cfg, with_init_cfg=True)
    backbone = getattr(model, 'backbone', None)
    if pretrained_backbone and isinstance(backbone, ScaleNetBackbone) and backbone.init_cfg is not None:
        checkpoint = backbone.init_cfg['checkpoint']
        if '://' not in str(checkpoint):
            load_pretrained(backbone, checkpoint, prefix=backbone.init_cfg.get('prefix'))


def check_before_run(cfg: Config, loaders: tuple[str, ...] = DATALOADERS, pretrained_backbone: bool = True) -> None:
    """Everything a training or test run can get wrong up front: data paths and annotation files, the
    checkpoint to resume or test, the model config and (for training) its pretrained backbone."""
    check_data_paths(cfg, loaders)
    check_load_from(cfg)
    check_model(cfg, pretrained_backbone)
