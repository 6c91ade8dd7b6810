"""UperNet on ADE20K through mmseg: recipe, leaf configs, Runner, our tools and mmseg's own tools."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from PIL import Image

import scalenet_mm
from scalenet_mm.config_tools.config_checks import check_data_paths

from conftest import one_iteration_cfg, run_two_iterations_with
from shipped_configs import pop_our_hooks

mmseg = pytest.importorskip('mmseg')
from mmengine.structures import PixelData  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MMSEG_CONFIGS = Path(mmseg.__file__).parent / '.mim' / 'configs'
MMSEG_TOOLS = Path(mmseg.__file__).parent / '.mim' / 'tools'
DEMO = REPO / 'configs' / 'demo' / 'upernet_scalenet-swin-mini-d2x_ade20k-mini.py'
LEAVES = sorted((REPO / 'configs' / 'scalenet').glob('upernet_*.py'))


def without_label_checks(node):
    """The config with our CheckSegLabels pipeline steps removed (the one deliberate recipe change)."""
    if isinstance(node, dict):
        return {k: without_label_checks(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        kept = [without_label_checks(v) for v in node
                if not (isinstance(v, dict) and v.get('type') == 'scalenet_mm.CheckSegLabels')]
        return type(node)(kept)
    return node


def test_recipe_equals_mmseg_swin_upernet_except_the_backbone():
    ours = Config.fromfile(str(REPO / 'configs/scalenet/upernet_swin-t_8xb2-160k_ade20k-512x512.py')).to_dict()
    assert [t['type'] for t in ours['train_pipeline']][1:3] == ['LoadAnnotations', 'scalenet_mm.CheckSegLabels']
    ours = without_label_checks(ours)
    theirs = Config.fromfile(str(MMSEG_CONFIGS / 'swin' /
                                 'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py')).to_dict()
    for cfg in (ours, theirs):
        cfg['model'].pop('backbone')
        cfg.pop('checkpoint_file', None)
        cfg.pop('backbone_norm_cfg', None)
    assert ours.pop('custom_imports') == dict(imports=['scalenet_mm'], allow_failed_imports=False)
    assert ours.pop('auto_scale_lr') == dict(enable=False, base_batch_size=16)
    pop_our_hooks(ours, theirs)
    assert ours == theirs


def test_reference_backbone_is_mmseg_swin_t():
    ours = Config.fromfile(str(REPO / 'configs/scalenet/upernet_swin-t_8xb2-160k_ade20k-512x512.py'))
    backbone = MODELS.build(dict(ours.model.backbone, init_cfg=None))
    assert backbone.scaled_depths == (2, 2, 6, 2) and backbone.adapter_cfg is None
    assert backbone.stages[2].drop_path_rates[-1] == pytest.approx(0.3 * 9 / 11)  # position 9 of 0..11


def build_segmentor(cfg: Config):
    cfg.model.backbone.init_cfg = None  # no downloads in tests; loading is tested in test_checkpoint_loading
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    return model


@pytest.mark.parametrize('config', LEAVES, ids=[p.stem.split('_')[1] for p in LEAVES])
def test_every_leaf_config_builds_and_computes_a_loss(config):
    cfg = Config.fromfile(str(config))
    cfg.model.data_preprocessor.size = (64, 64)
    model = build_segmentor(cfg)
    images, samples = [], []
    for _ in range(2):  # two images: the pyramid pooling's 1x1 BatchNorm needs more than one value
        images.append(torch.randint(0, 255, (3, 64, 64), dtype=torch.uint8))
        samples.append(SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 150, (1, 64, 64)))))
        samples[-1].set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total) and total > 0
    backbone = model.backbone
    name = config.stem
    if 'scratch' in name or 'stack' in name:
        assert backbone.unshare and backbone.adapter_cfg is None
    if 'd2x' in name:
        assert backbone.scaled_depths in ((4, 4, 12, 4), (4, 4, 36, 4))
    if 'frozen' in name:  # the parameter-efficient recipe, named so
        assert backbone.trainable == 'adapters_norms' and backbone.adapter_cfg is not None
    elif 'scalenet' in name:  # full fine-tuning is the default downstream
        assert backbone.trainable == 'all' and backbone.adapter_cfg is not None


@pytest.mark.parametrize('backbone', [dict(), dict(unshare=True, adapter=None)], ids=['scalenet-2x', 'untied-2x'])
def test_runner_trains_one_iteration_and_evaluates_miou(tmp_path, backbone):
    runner = Runner.from_cfg(one_iteration_cfg(DEMO, tmp_path, **backbone))
    runner.train()
    metrics = runner.test()
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'}
    assert 0 <= metrics['mIoU'] <= 100
    assert (tmp_path / 'iter_1.pth').is_file()
    state = torch.load(tmp_path / 'iter_1.pth')['state_dict']
    assert ('backbone.stages.0.blocks.3.norm1.weight' in state) == bool(backbone)


@pytest.fixture
def trained_demo(trained_segmentation_demo):
    """The README's demo run (trained once per test run, in conftest)."""
    return trained_segmentation_demo


def scalars(work_dir: Path) -> list[dict]:
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    return [json.loads(line) for line in logs[-1].read_text().splitlines()]


def test_demo_clearly_learns(trained_demo):
    evaluations = [entry for entry in scalars(trained_demo) if 'mIoU' in entry]
    first, last = evaluations[0]['mIoU'], evaluations[-1]['mIoU']
    assert last >= 3 * first and last >= 5.0, (first, last)


def test_our_test_tool_with_tta_show_dir_and_out(trained_demo, tmp_path):
    checkpoint = trained_demo / 'iter_200.pth'
    result = subprocess.run([sys.executable, 'tools/test.py', str(DEMO), str(checkpoint), '--work-dir', str(tmp_path),
                             '--show-dir', 'overlays', '--out', str(tmp_path / 'labels'), '--tta'],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mIoU' in result.stdout + result.stderr
    assert len(list(tmp_path.glob('overlays/**/*.png'))) == 3
    assert len(list((tmp_path / 'labels').glob('*.png'))) == 3


def test_mmseg_inference_apis_run_our_config_on_unlabelled_images(trained_demo):
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    checkpoint = str(trained_demo / 'iter_200.pth')
    image = str(REPO / 'demo/data/ade20k_mini/ADEChallengeData2016/images/validation/ADE_val_00000001.jpg')
    model = init_model(str(DEMO), checkpoint, device='cpu')
    sample = inference_model(model, image)  # its test pipeline has no LoadAnnotations: no label check runs
    height, width = Image.open(image).size[::-1]
    assert tuple(sample.pred_sem_seg.data.shape) == (1, height, width)
    labels = MMSegInferencer(model=str(DEMO), weights=checkpoint, device='cpu')(image)['predictions']
    assert (torch.as_tensor(labels) == sample.pred_sem_seg.data[0].cpu()).all()


def test_mmseg_own_train_tool_runs_our_config(tmp_path):
    assert 'mIoU' in run_two_iterations_with(MMSEG_TOOLS / 'train.py', DEMO, tmp_path, 'custom_hooks=[]')


def test_missing_data_root_names_the_key(tmp_path):
    cfg = Config.fromfile(str(DEMO))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    with pytest.raises(FileNotFoundError, match=r"train_dataloader\.dataset\.data_root=.*nowhere.*--cfg-options"):
        check_data_paths(cfg)
    cfg = Config.fromfile(str(DEMO))
    cfg.val_dataloader.dataset.data_prefix.seg_map_path = 'annotations/missing'
    with pytest.raises(FileNotFoundError, match=r'val_dataloader\.dataset\.data_prefix\.seg_map_path'):
        check_data_paths(cfg)
    assert scalenet_mm.__version__


def test_label_map_with_values_outside_the_classes_names_the_file(tmp_path):
    import numpy as np
    from PIL import Image
    root = tmp_path / 'ADEChallengeData2016'
    shutil.copytree(REPO / 'demo/data/ade20k_mini/ADEChallengeData2016', root)
    label_file = root / 'annotations/training/ADE_train_00016869.png'
    labels = np.array(Image.open(label_file))
    labels[:4, :4] = 200
    Image.fromarray(labels).save(label_file)
    cfg = Config.fromfile(str(DEMO))
    with DefaultScope.overwrite_default_scope('mmseg'):
        from mmseg.registry import DATASETS
        dataset = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=str(root)))
        with pytest.raises(ValueError, match=r'ADE_train_00016869.png: label values \[199\] after reduce_zero_label'):
            [dataset[i] for i in range(len(dataset))]
