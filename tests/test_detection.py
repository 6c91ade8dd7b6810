"""Mask R-CNN on COCO through mmdet: recipe, leaf configs, Runner, COCO AP, our tools and mmdet's own tools."""
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from scalenet_mm.config_tools.config_checks import check_data_paths

from conftest import one_iteration_cfg, run_two_iterations_with
from shipped_configs import pop_our_hooks

mmdet = pytest.importorskip('mmdet')
from mmdet.registry import MODELS  # noqa: E402
from mmdet.structures import DetDataSample  # noqa: E402
from mmdet.structures.mask import BitmapMasks  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MMDET_CONFIGS = Path(mmdet.__file__).parent / '.mim' / 'configs'
MMDET_TOOLS = Path(mmdet.__file__).parent / '.mim' / 'tools'
DEMO = REPO / 'configs' / 'demo' / 'mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py'
LEAVES = sorted((REPO / 'configs' / 'scalenet').glob('mask-rcnn_*.py'))


@pytest.mark.parametrize('schedule', ['1x', 'ms-crop-3x'])
def test_recipe_equals_mmdet_swin_mask_rcnn_except_the_backbone(schedule):
    ours = Config.fromfile(str(REPO / f'configs/scalenet/mask-rcnn_swin-t-p4-w7_fpn_{schedule}_coco.py')).to_dict()
    theirs = Config.fromfile(str(MMDET_CONFIGS / 'swin' / f'mask-rcnn_swin-t-p4-w7_fpn_{schedule}_coco.py')).to_dict()
    for cfg in (ours, theirs):
        cfg['model'].pop('backbone')
    assert ours.pop('custom_imports') == dict(imports=['scalenet_mm'], allow_failed_imports=False)
    assert ours.pop('pretrained') == theirs.pop('pretrained')
    pop_our_hooks(ours, theirs)
    assert ours == theirs


def test_reference_backbone_is_mmdet_swin_t_from_the_official_checkpoint():
    cfg = Config.fromfile(str(REPO / 'configs/scalenet/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'))
    mmdet_cfg = Config.fromfile(str(MMDET_CONFIGS / 'swin' / 'mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py'))
    assert cfg.model.backbone.init_cfg.checkpoint == mmdet_cfg.model.backbone.init_cfg.checkpoint
    backbone = MODELS.build(dict(cfg.model.backbone, init_cfg=None))
    assert backbone.scaled_depths == (2, 2, 6, 2) and backbone.adapter_cfg is None
    assert backbone.stages[3].drop_path_rates[-1] == pytest.approx(0.2)


def toy_batch(model, size: int = 96):
    images, samples = [], []
    for _ in range(2):
        images.append(torch.randint(0, 255, (3, size, size), dtype=torch.uint8))
        sample = DetDataSample()
        masks = torch.zeros(1, size, size, dtype=torch.uint8)
        masks[0, 20:70, 10:60] = 1
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 20., 60., 70.]]), labels=torch.tensor([3]),
                                           masks=BitmapMasks(masks.numpy(), size, size))
        sample.set_metainfo(dict(img_shape=(size, size), ori_shape=(size, size), pad_shape=(size, size),
                                 scale_factor=(1.0, 1.0), batch_input_shape=(size, size)))
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)


@pytest.mark.parametrize('config', LEAVES, ids=[p.stem.split('_')[1] + '-' + p.stem.split('_')[3] for p in LEAVES])
def test_every_leaf_config_builds_and_computes_a_loss(config):
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.init_cfg = None  # no downloads in tests; loading is tested in test_checkpoint_loading
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    losses = model(**toy_batch(model), mode='loss')
    total = sum(v if torch.is_tensor(v) else sum(v) for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total) and total > 0
    name = config.stem
    if 'scratch' in name or 'stack' in name:
        assert model.backbone.unshare and model.backbone.adapter_cfg is None
    if 'frozen' in name:  # the parameter-efficient recipe, named so
        assert model.backbone.trainable == 'adapters_norms'
        assert not model.backbone.stages[0].blocks[0].ffn.fc1.weight.requires_grad
        assert model.roi_head.bbox_head.fc_cls.weight.requires_grad
    elif 'scalenet' in name:  # full fine-tuning is the default downstream
        assert model.backbone.trainable == 'all' and model.backbone.adapter_cfg is not None


def demo_cfg(work_dir: Path, **backbone) -> Config:
    cfg = one_iteration_cfg(DEMO, work_dir, **backbone)
    cfg.train_dataloader.dataset.indices = 2  # two images
    cfg.val_dataloader.dataset.indices = 2
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # an untrained detector's scores are low: keep its boxes to score them
    return cfg


@pytest.mark.parametrize('backbone', [dict(), dict(unshare=True, adapter=None)], ids=['scalenet-2x', 'untied-2x'])
def test_runner_trains_one_iteration_and_evaluates_coco_ap(tmp_path, backbone):
    runner = Runner.from_cfg(demo_cfg(tmp_path, **backbone))
    runner.train()
    metrics = runner.test()
    assert {'coco/bbox_mAP', 'coco/segm_mAP'} <= set(metrics)
    assert -1 <= metrics['coco/bbox_mAP'] <= 1
    state = torch.load(tmp_path / 'iter_1.pth')['state_dict']
    assert ('backbone.stages.0.blocks.3.norm1.weight' in state) == bool(backbone)


@pytest.fixture
def trained_demo(trained_detection_demo):
    """The README's demo run (trained once per test run, in conftest)."""
    return trained_detection_demo


def test_demo_clearly_learns(trained_demo):
    logs = sorted(trained_demo.glob('*/vis_data/scalars.json'))
    evaluations = [e for e in map(json.loads, logs[-1].read_text().splitlines()) if 'coco/bbox_mAP' in e]
    assert len(evaluations) == 1
    assert evaluations[0]['coco/bbox_mAP'] >= 0.3 and evaluations[0]['coco/segm_mAP'] >= 0.3, evaluations


def test_our_test_tool_writes_metrics_overlays_and_predictions(trained_demo, tmp_path):
    result = subprocess.run([sys.executable, 'tools/test.py', str(DEMO), str(trained_demo / 'iter_200.pth'),
                             '--work-dir', str(tmp_path), '--show-dir', 'overlays',
                             '--out', str(tmp_path / 'dets.pkl')], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'bbox_mAP_copypaste' in result.stdout + result.stderr
    metrics = json.loads(next(tmp_path.glob('*/*.json')).read_text())
    assert metrics['coco/bbox_mAP'] >= 0.3
    assert len(list(tmp_path.glob('*/overlays/*.jpg'))) == 8
    with open(tmp_path / 'dets.pkl', 'rb') as handle:
        predictions = pickle.load(handle)
    assert len(predictions) == 8 and 'masks' in predictions[0]['pred_instances']


def test_mmdet_own_train_tool_runs_our_config(tmp_path):
    output = run_two_iterations_with(MMDET_TOOLS / 'train.py', DEMO, tmp_path, 'model.test_cfg.rcnn.score_thr=0.0')
    assert 'bbox_mAP_copypaste' in output


def test_missing_annotation_file_names_the_key():
    cfg = Config.fromfile(str(DEMO))
    cfg.train_dataloader.dataset.ann_file = 'annotations/instances_train2017.json'
    with pytest.raises(FileNotFoundError, match=r'train_dataloader\.dataset\.ann_file=.*instances_train2017'):
        check_data_paths(cfg)


def test_mmdet_own_test_tool_evaluates_our_checkpoint(trained_demo, tmp_path):
    result = subprocess.run([sys.executable, str(MMDET_TOOLS / 'test.py'), str(DEMO),
                             str(trained_demo / 'iter_200.pth'), '--work-dir', str(tmp_path)],
                            cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(next(tmp_path.glob('*/*.json')).read_text())
    assert metrics['coco/bbox_mAP'] >= 0.3
