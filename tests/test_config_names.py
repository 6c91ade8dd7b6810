"""Config names follow one scheme (docs/config_names.md), and say what the config does.

``[{algorithm}_]{model}[_{init}]_[{neck}_]{schedule}_{dataset}``: fields separated by ``_``, words inside a
field by ``-``, as in mmdet, mmseg and mmpretrain. Every config of ``configs/scalenet/`` and ``configs/deit/``
matches it (the mmdet-named Swin baselines, ``...swin-t-p4-w7...``, once their ``-p4-w7`` is dropped), and
each field is checked against the config it names: depth, sharing, adapters, frozen weights, where the
backbone starts, batch, schedule length, layer-wise lr decay, dataset.
"""
import re
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted([*(REPO / 'configs' / 'scalenet').glob('*.py'), *(REPO / 'configs' / 'deit').glob('*.py')])
NAME = re.compile(
    r'((?P<algorithm>mask-rcnn|upernet)_)?'
    r'(?P<model>(?P<scalenet>scalenet-)?(swin|deit)-[tsb](?P<d2x>-d2x(-(?P<arm>frozen|stack|shared|scratch))?)?)'
    r'(_(?P<init>in1k-pre))?'
    r'(_(?P<neck>fpn))?'
    r'_(?P<schedule>((?P<gpus>\d+)xb(?P<batch>\d+)-)?((?P<trick>lrd|ms-crop)-)?(?P<length>\d+)(?P<unit>x|k|e))'
    r'_(?P<dataset>coco|ade20k-512x512|in1k)')
# baselines named as mmdet names its own Swin configs (``p4-w7``: patch 4, window 7), so users find them
UPSTREAM_NAMED = {'mask-rcnn_swin-t-p4-w7_fpn_1x_coco', 'mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco',
                  'mask-rcnn_swin-s-p4-w7_fpn_1x_coco'}
DATASETS = {'coco': 'CocoDataset', 'ade20k-512x512': 'ADE20KDataset', 'in1k': 'scalenet_mm.ImageNetDataset'}


def fields(stem: str) -> dict:
    if stem in UPSTREAM_NAMED:
        stem = stem.replace('-p4-w7_', '_')
    match = NAME.fullmatch(stem)
    assert match, f'{stem}: not [{{algorithm}}_]{{model}}[_{{init}}]_[{{neck}}_]{{schedule}}_{{dataset}}'
    return match.groupdict()


def test_the_scheme_reads_the_documented_examples():
    assert fields('mask-rcnn_scalenet-swin-t-d2x-frozen_in1k-pre_fpn_1x_coco') == dict(
        algorithm='mask-rcnn', model='scalenet-swin-t-d2x-frozen', scalenet='scalenet-', d2x='-d2x-frozen',
        arm='frozen', init='in1k-pre', neck='fpn', schedule='1x', gpus=None, batch=None, trick=None, length='1',
        unit='x', dataset='coco')
    got = fields('upernet_scalenet-swin-t-d2x_in1k-pre_8xb2-lrd-160k_ade20k-512x512')
    keys = ('model', 'init', 'neck', 'gpus', 'batch', 'trick', 'length', 'unit', 'dataset')
    assert tuple(got[k] for k in keys) == ('scalenet-swin-t-d2x', 'in1k-pre', None, '8', '2', 'lrd', '160', 'k',
                                           'ade20k-512x512')
    for old in ('mask-rcnn_scalenet-swin-t-d2x-frozen-in1k-pre_fpn_1x_coco',  # in1k-pre glued to the model
                'mask-rcnn_scalenet-swin-t-d2x-in1k-pre-lrd_fpn_1x_coco', 'mask-rcnn_swin-t-in1k-pre-100e_fpn_1x_coco',
                'upernet_scalenet-deit-s-d2x-in1k-pre_8xb2-80k_ade20k-512x512'):
        assert not NAME.fullmatch(old), old


def test_upstream_named_baselines_are_mmdets_names():
    import mmdet
    shipped = {p.stem for p in (Path(mmdet.__file__).parent / '.mim' / 'configs' / 'swin').glob('*.py')}
    names = {c.stem for c in CONFIGS}
    assert UPSTREAM_NAMED <= names
    for name in UPSTREAM_NAMED:  # mmdet's own name, or its pattern for a recipe mmdet ships for Swin-T only
        assert name in shipped or name.replace('swin-s', 'swin-t') in shipped, name


@pytest.mark.parametrize('config', CONFIGS, ids=lambda c: c.stem)
def test_name_follows_the_scheme_and_says_what_the_config_does(config):
    f = fields(config.stem)
    cfg = Config.fromfile(str(config))
    backbone = cfg.model.backbone
    downstream = f['algorithm'] is not None
    where = (backbone.get('init_cfg') or {}).get('checkpoint')

    # model: depth x2, ScaleNet (shared blocks + adapters), the arms
    assert backbone.depth_scale == (2 if f['d2x'] else 1)
    assert (backbone.get('adapter') is not None) == bool(f['scalenet'])
    assert bool(backbone.get('unshare', False)) == (f['arm'] in ('stack', 'scratch'))
    assert (backbone.get('trainable', 'all') == 'adapters_norms') == (f['arm'] == 'frozen')

    # init: one ImageNet-1k training more than the task's default start
    if downstream:  # default: the released checkpoint; in1k-pre: our ImageNet stage of the same model
        assert where, f'{config.name}: a downstream config starts from a checkpoint'
        assert where.startswith('work_dirs/' if f['init'] else 'https://'), where
    else:  # default: random weights; in1k-pre: the released checkpoint
        assert (where or '').startswith('https://') if f['init'] else where is None, where

    # neck: Mask R-CNN's FPN is named, UperNet's (part of the algorithm) is not
    assert (f['neck'] == 'fpn') == (f['algorithm'] == 'mask-rcnn')

    # schedule: GPUs x images per GPU, tricks, length (1x = 12 epochs, 160k iterations, 100e epochs)
    assert bool(f['gpus']) == (f['algorithm'] != 'mask-rcnn')  # mmdet's names leave out 8xb2
    if f['batch']:
        assert f['gpus'] == '8' and cfg.train_dataloader.batch_size == int(f['batch'])
    assert (f['trick'] == 'lrd') == ('LayerDecay' in cfg.optim_wrapper.get('constructor', ''))
    if f['trick'] == 'ms-crop':
        choices = [t for t in cfg.train_pipeline if t.type == 'RandomChoice']
        assert choices and any(t.type == 'RandomCrop' for choice in choices[0].transforms for t in choice)
    length = int(f['length'])
    expected = {'x': ('max_epochs', 12 * length), 'e': ('max_epochs', length), 'k': ('max_iters', 1000 * length)}
    key, value = expected[f['unit']]
    assert cfg.train_cfg[key] == value
    assert f['unit'] == {'mask-rcnn': 'x', 'upernet': 'k', None: 'e'}[f['algorithm']]

    # dataset
    assert cfg.train_dataloader.dataset.type == DATASETS[f['dataset']]
