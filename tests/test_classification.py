"""The ImageNet stage: dataset, timm transforms, metric, Runner training with Mixup/CutMix, and the chain
classifier checkpoint -> Mask R-CNN / UperNet backbones."""
import os
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement

from scalenet_mm.datasets import ImageNetDataset, TimmClassificationTransform
from scalenet_mm.evaluation.accuracy import TopKAccuracy, topk_accuracy
from scalenet_mm.registry import MODELS

pytest.importorskip('timm')
REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / 'configs' / 'demo' / 'scalenet-swin-mini-d2x_cifar10-mini.py'
DATA = REPO / 'demo' / 'data' / 'cifar10_mini'
IMAGE = REPO / 'demo' / 'data' / 'n01440764_tench.JPEG'


def test_dataset_reads_class_folders_and_label_files(tmp_path):
    train = ImageNetDataset(str(DATA), split='train')
    assert train.metainfo['classes'] == ('airplane', 'automobile', 'bird', 'frog', 'ship')
    assert len(train) == 500 and {train[i]['gt_label'] for i in range(0, 500, 100)} == {0, 1, 2, 3, 4}
    # a flat val/ folder with a label file, as ImageNet ships it
    (tmp_path / 'train' / 'n0').mkdir(parents=True)
    (tmp_path / 'train' / 'n1').mkdir()
    (tmp_path / 'val').mkdir()
    shutil.copy(IMAGE, tmp_path / 'val' / 'a.JPEG')
    shutil.copy(IMAGE, tmp_path / 'val' / 'b.JPEG')
    (tmp_path / 'val.txt').write_text('a.JPEG 1\nb.JPEG 0\n')
    val = ImageNetDataset(str(tmp_path), split='val', ann_file='val.txt')
    assert [(Path(val[i]['img_path']).name, val[i]['gt_label']) for i in range(2)] == [('a.JPEG', 1), ('b.JPEG', 0)]


@pytest.mark.parametrize('case, error, message', [
    ('missing', FileNotFoundError, 'does not exist'),
    ('empty', ValueError, 'no images found'),
    ('bad_label', ValueError, 'expected "<image path> <class index'),
])
def test_dataset_errors_are_clear(tmp_path, case, error, message):
    (tmp_path / 'train' / 'n0').mkdir(parents=True)
    kwargs = dict(split='val')
    if case == 'empty':
        (tmp_path / 'val' / 'n0').mkdir(parents=True)
    if case == 'bad_label':
        (tmp_path / 'val').mkdir()
        (tmp_path / 'val.txt').write_text('a.JPEG 7\n')
        kwargs['ann_file'] = 'val.txt'
    with pytest.raises(error, match=message):
        ImageNetDataset(str(tmp_path), **kwargs)


def test_transforms_shapes_and_value_ranges():
    sample = dict(img_path=str(IMAGE), gt_label=0)
    train = TimmClassificationTransform(training=True)(dict(sample))
    evaluation = TimmClassificationTransform(training=False)(dict(sample))
    for out in (train, evaluation):
        assert out['inputs'].shape == (3, 224, 224) and out['inputs'].dtype == torch.float32
        assert out['data_samples'].gt_label.item() == 0
    # normalised with ImageNet mean/std: values of [0, 1] pixels land in [-2.12, 2.64]
    assert evaluation['inputs'].min() >= -2.2 and evaluation['inputs'].max() <= 2.7
    assert abs(evaluation['inputs'].mean()) < 1.5
    repr(TimmClassificationTransform(training=True))


def test_unreadable_image_names_the_file(tmp_path):
    broken = tmp_path / 'broken.JPEG'
    broken.write_bytes(b'not a jpeg')
    with pytest.raises(ValueError, match='cannot read image .*broken.JPEG'):
        TimmClassificationTransform(training=False)(dict(img_path=str(broken), gt_label=0))


def test_topk_accuracy_against_hand_computed_values():
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.0, 0.0],   # label 3: top-1 hit
                           [0.5, 0.1, 0.1, 0.1, 0.1, 0.1],   # label 1: rank 2..5 tie region -> top-5 hit
                           [0.0, 0.0, 0.1, 0.2, 0.3, 0.4],   # label 0: rank 6 -> miss
                           [0.3, 0.0, 0.0, 0.0, 0.0, 0.7]])  # label 0: rank 2 -> top-5 hit
    labels = torch.tensor([3, 1, 0, 0])
    assert topk_accuracy(scores, labels, (1, 5)) == {'top1': 25.0, 'top5': 75.0}
    metric = TopKAccuracy(topk=(1, 5))
    metric.process({}, [dict(pred_score=s, gt_label=torch.tensor(label)) for s, label in zip(scores, labels)])
    assert metric.compute_metrics(metric.results) == {'top1': 25.0, 'top5': 75.0}


def test_runner_trains_with_mixup_and_evaluates(trained_classifier):
    runner, checkpoint = trained_classifier
    assert runner.iter == 2 and checkpoint.is_file()
    metrics = runner.val_loop.run()
    assert 0 <= metrics['accuracy/top1'] <= 100
    assert runner.model.mixup is not None and runner.model.mixup.mix_prob == 1.0


def test_predict_needs_no_labels_and_loss_names_the_missing_ones(trained_classifier):
    runner, _ = trained_classifier
    model = runner.model.eval()
    images = torch.randn(3, 3, 32, 32)
    logits = model(images, mode='tensor')
    for samples in (None, [BaseDataElement(img_path=f'{i}.png') for i in range(3)]):
        predictions = model(images, samples, mode='predict')
        assert len(predictions) == 3
        torch.testing.assert_close(torch.stack([p.pred_score for p in predictions]), logits.softmax(dim=1))
        assert [p.pred_label.item() for p in predictions] == logits.argmax(dim=1).tolist()
    with pytest.raises(ValueError, match="mode='loss' needs data_samples that all carry gt_label"):
        model(images, [BaseDataElement(gt_label=torch.tensor(0)), BaseDataElement(), BaseDataElement()],
              mode='loss')


def test_configs_build():
    configs = sorted((REPO / 'configs' / 'scalenet').glob('*_in1k.py'))
    assert len(configs) == 6
    for config in configs:
        cfg = Config.fromfile(str(config))
        cfg.model.backbone.init_cfg = None
        cfg.model.head_init = None
        with DefaultScope.overwrite_default_scope('scalenet_mm'):
            model = MODELS.build(cfg.model)
        assert model.head.out_features == 1000 and model.mixup is not None
        assert cfg.auto_scale_lr.base_batch_size == 1024 and cfg.optim_wrapper.optimizer.lr == 1e-3
        assert not model.backbone.stages[3].pad_small_map  # the official small-map windows
        assert cfg.train_cfg.max_epochs == (100 if 'in1k-pre' in config.stem else 300)
        if 'd2x' in config.stem:
            assert model.backbone.scaled_depths == (4, 4, 12, 4)
        if 'scalenet' in config.stem:
            assert model.backbone.trainable == 'adapters_norms'


@pytest.mark.parametrize('task_config', [
    'mask-rcnn_scalenet-swin-t-d2x_in1k-pre_fpn_1x_coco.py',
    'upernet_scalenet-swin-t-d2x_in1k-pre_8xb2-160k_ade20k-512x512.py'])
def test_classifier_checkpoint_feeds_detection_and_segmentation(trained_classifier, task_config):
    runner, checkpoint = trained_classifier
    classifier_backbone = runner.model.backbone
    cfg = Config.fromfile(str(REPO / 'configs' / 'scalenet' / task_config))
    backbone_cfg = dict(cfg.model.backbone)
    # same small-map windows as the classifier: at 32x32 the last stages are smaller than the window, where
    # detection's convention (pad and shift) would compute another function from the same weights
    backbone_cfg.update(arch=dict(classifier_backbone.arch), patch_size=2, window_size=4, pad_small_map=False,
                        adapter=dict(type='parallel', targets=('fc1', 'fc2'), dim=8),
                        init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.'))
    backbone = MODELS.build(backbone_cfg)
    backbone.init_weights()
    shared = backbone.stages[1]
    assert shared.blocks[0] is shared.blocks[shared.position_block[2]]  # sharing intact
    for key, value in classifier_backbone.state_dict().items():
        assert torch.equal(backbone.state_dict()[key], value), key  # adapters and all, loaded strictly
    classifier_backbone.eval()
    backbone.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)[3], classifier_backbone(x)[0])


def test_classification_demo_config_runs_under_our_scope():
    cfg = Config.fromfile(str(DEMO))
    assert cfg.default_scope == 'scalenet_mm' and os.path.isdir(cfg.train_dataloader.dataset.data_root)


def test_head_init_copies_the_trained_head_and_checks_its_shape(trained_classifier):
    runner, checkpoint = trained_classifier
    cfg = Config.fromfile(str(DEMO))
    with DefaultScope.overwrite_default_scope('scalenet_mm'):
        model = MODELS.build(dict(cfg.model, head_init=dict(checkpoint=str(checkpoint), prefix='head.')))
        model.init_weights()
        assert torch.equal(model.head.weight, runner.model.head.weight)
        assert torch.equal(model.head.bias, runner.model.head.bias)
        wrong = MODELS.build(dict(cfg.model, num_classes=7, head_init=dict(checkpoint=str(checkpoint))))
        with pytest.raises(ValueError, match=r"'head.weight' .* has shape \(5, 384\), the head needs \(7, 384\)"):
            wrong.init_weights()
        with pytest.raises(ValueError, match='must be dict'):
            MODELS.build(dict(cfg.model, head_init=dict(path=str(checkpoint))))
