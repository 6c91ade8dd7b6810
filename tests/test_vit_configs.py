"""The DeiT configs: the UperNet recipe equals mmseg's shipped DeiT-S recipe except the backbone, every
config builds (and the segmentors compute a loss), and the ScaleNet UperNet starts from its own ImageNet stage."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope

import scalenet_mm  # noqa: F401
from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.config_tools.backbone_config import build_model

from shipped_configs import pop_our_hooks
from test_segmentation import MMSEG_CONFIGS, without_label_checks

REPO = Path(__file__).resolve().parents[1]
DEIT = REPO / 'configs' / 'deit'
CLASSIFIERS = sorted(DEIT.glob('*_in1k.py'))
SEGMENTORS = sorted(DEIT.glob('upernet_*.py'))


def test_upernet_recipe_equals_mmseg_deit_s_recipe_except_the_backbone():
    ours = without_label_checks(Config.fromfile(str(DEIT / 'upernet_deit-s_8xb2-80k_ade20k-512x512.py')).to_dict())
    theirs = Config.fromfile(str(MMSEG_CONFIGS / 'vit' / 'vit_deit-s16_upernet_8xb2-80k_ade20k-512x512.py')).to_dict()
    assert theirs['model'].pop('pretrained') == 'pretrain/deit_small_patch16_224-cd65a155.pth'
    assert ours['model'].pop('pretrained') is None  # ours: the backbone's init_cfg, Facebook's file as released
    assert ours['model']['backbone']['init_cfg']['checkpoint'].endswith('deit_small_patch16_224-cd65a155.pth')
    our_backbone, their_backbone = ours['model'].pop('backbone'), theirs['model'].pop('backbone')
    # the backbone: the same mmseg arguments, plus ours (type, scale, adapters, init) and the patch bias
    assert {k: v for k, v in our_backbone.items()
            if k not in ('type', 'depth_scale', 'adapter', 'patch_bias', 'init_cfg')} == \
        {k: v for k, v in their_backbone.items() if k != 'type'}
    assert our_backbone['patch_bias'] is True and our_backbone['adapter'] is None
    ours.pop('checkpoint_file')
    assert ours.pop('custom_imports') == dict(imports=['scalenet_mm'], allow_failed_imports=False)
    assert ours.pop('auto_scale_lr') == dict(enable=False, base_batch_size=16)
    pop_our_hooks(ours, theirs)
    assert ours == theirs


@pytest.mark.parametrize('config', SEGMENTORS, ids=[p.stem.split('_')[1] for p in SEGMENTORS])
def test_upernet_configs_build_and_compute_a_loss(config):
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    cfg = Config.fromfile(str(config))
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    images = [torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8) for _ in range(2)]
    samples = []
    for _ in range(2):
        samples.append(SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 150, (1, 64, 64)))))
        samples[-1].set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
    losses = model(**model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True), mode='loss')
    assert torch.isfinite(sum(v for k, v in losses.items() if 'loss' in k))
    backbone = model.backbone
    if 'd2x' in config.stem:
        assert backbone.scaled_depths == (24,) and backbone.out_indices == (5, 11, 17, 23)
        assert backbone.trainable == 'all' and backbone.adapter_cfg is not None
        assert backbone.drop_path_rates[-1] == pytest.approx(0.2)
    else:
        assert backbone.scaled_depths == (12,) and backbone.out_indices == (2, 5, 8, 11)


@pytest.mark.parametrize('config', CLASSIFIERS, ids=[p.stem.split('_')[0] for p in CLASSIFIERS])
def test_classifier_configs_follow_the_deit_recipe(config):
    cfg = Config.fromfile(str(config))
    model = build_model(cfg)
    backbone = model.backbone
    assert model.pool == 'cls_token' and model.head.out_features == 1000 and model.mixup is not None
    assert backbone.final_norm and backbone.output_cls_token and backbone.patch_embed.projection.bias is not None
    assert cfg.optim_wrapper.optimizer.lr == 1e-3 and cfg.auto_scale_lr.base_batch_size == 1024
    width = 768 if 'deit-b' in config.stem else 384
    assert model.head.in_features == width and backbone.arch['embed_dims'] == width
    name = config.stem
    assert cfg.train_cfg.max_epochs == (100 if 'in1k-pre' in name else 300)
    if 'scalenet' in name:  # the seed recipe: frozen shared weights, adapters and norms train
        assert backbone.scaled_depths == (24,) and backbone.trainable == 'adapters_norms'
        assert backbone.drop_path_rates[-1] == pytest.approx(0.5 if 'deit-b' in name else 0.2)
        assert cfg.model.head_init.checkpoint == cfg.model.backbone.init_cfg.checkpoint
    elif 'scratch' in name:
        assert backbone.scaled_depths == (24,) and backbone.unshare and backbone.adapter_cfg is None
    else:
        assert backbone.scaled_depths == (12,)


def test_scalenet_upernet_loads_its_imagenet_stage_strictly(tmp_path):
    stage = DEIT / 'scalenet-deit-s-d2x-frozen_in1k-pre_8xb128-100e_in1k.py'
    segmentor = Config.fromfile(str(DEIT / 'upernet_scalenet-deit-s-d2x_in1k-pre_8xb2-80k_ade20k-512x512.py'))
    stage_cfg = Config.fromfile(str(stage))
    init = segmentor.model.backbone.init_cfg
    assert init.checkpoint == f'work_dirs/{stage.stem}/epoch_{stage_cfg.train_cfg.max_epochs}.pth'
    assert init.prefix == 'backbone.'
    classifier = build_model(stage_cfg)
    with torch.no_grad():
        for param in classifier.backbone.parameters():
            param.normal_()
    path = tmp_path / 'epoch_100.pth'
    torch.save({'meta': {}, 'state_dict': classifier.state_dict()}, path)
    backbone = build_model(segmentor).backbone
    report = load_pretrained(backbone, str(path), prefix=init.prefix)
    assert report.format == 'scalenet' and not report.initialised
    assert report.skipped['ln1.weight'].startswith('final norm')  # the classifier's final norm, unused here
    assert list(report.resized) == ['pos_embed']  # the 14x14 grid of 224 to the 32x32 grid of 512
    for key, value in backbone.state_dict().items():
        if key != 'pos_embed':
            assert torch.equal(value, classifier.backbone.state_dict()[key]), key


def test_analysis_tools_count_the_vit(tmp_path):
    import subprocess
    import sys
    config = str(DEIT / 'scalenet-deit-s-d2x-frozen_in1k-pre_8xb128-100e_in1k.py')
    params = subprocess.run([sys.executable, str(REPO / 'tools/analysis/count_params.py'), config],
                            capture_output=True, text=True, check=True).stdout
    # 24 positions running 12 DeiT-S layers: the layers count twice with multiplicity, once unique
    layers = next(line.split() for line in params.splitlines() if line.startswith('layers '))
    assert float(layers[1]) == pytest.approx(2 * float(layers[2]), abs=0.002)
    flops = subprocess.run([sys.executable, str(REPO / 'tools/analysis/get_flops.py'), str(DEIT /
                            'deit-s_8xb128-300e_in1k.py'), '--backbone-only'], capture_output=True, text=True,
                           check=True).stdout
    total = next(float(line.split()[1]) for line in flops.splitlines() if line.startswith('total '))
    assert total == pytest.approx(4.6, abs=0.05)  # DeiT-S at 224: 4.6 GFLOPs (the DeiT paper's figure)
