"""Bad input to tools/train.py gives one clear error naming the file or key, and leaves the work dir as it
was: every check runs before the Runner writes anything (scalenet_mm.config_tools.config_checks)."""
import os
import runpy
import shutil
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from conftest import build

REPO = Path(__file__).resolve().parents[1]
CLS_DEMO = REPO / 'configs/demo/scalenet-swin-mini-d2x_cifar10-mini.py'
DET_DEMO = REPO / 'configs/demo/mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py'


def run_train_tool(monkeypatch, *args: str) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, 'argv', ['tools/train.py', *args])
    with mock.patch.dict(os.environ):  # the tool exports LOCAL_RANK for its process
        runpy.run_path('tools/train.py', run_name='__main__')


@pytest.fixture
def work_dir(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'notes.txt').write_text('kept')
    return work


def assert_work_dir_untouched(work: Path) -> None:
    assert sorted(p.name for p in work.iterdir()) == ['notes.txt']


def mini_backbone_state(**kwargs) -> dict:
    from mmengine.config import Config
    cfg = Config.fromfile(str(CLS_DEMO)).model.backbone
    cfg.pop('type')
    return build(**{**cfg, **kwargs}).state_dict()


def test_misspelt_backbone_argument(monkeypatch, work_dir):
    with pytest.raises(TypeError, match='depth_scal'):
        run_train_tool(monkeypatch, str(CLS_DEMO), '--work-dir', str(work_dir),
                       '--cfg-options', 'model.backbone.depth_scal=3')
    assert_work_dir_untouched(work_dir)


def test_missing_dataset_folder(monkeypatch, work_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r'train_dataloader\.dataset\.data_root=.*nowhere'):
        run_train_tool(monkeypatch, str(CLS_DEMO), '--work-dir', str(work_dir),
                       '--cfg-options', f'train_dataloader.dataset.data_root={tmp_path / "nowhere"}')
    assert_work_dir_untouched(work_dir)


def test_annotation_file_that_is_not_json(monkeypatch, work_dir, tmp_path):
    data = tmp_path / 'coco'
    shutil.copytree(REPO / 'demo/data/coco_mini', data)
    ann = data / 'annotations' / 'instances_mini.json'
    assert ann.is_file()
    ann.write_text('image_id,category\n1,3\n')
    with pytest.raises(ValueError, match=r'train_dataloader\.dataset\.ann_file=.*instances_mini\.json.* '
                                         r'is not a JSON file'):
        run_train_tool(monkeypatch, str(DET_DEMO), '--work-dir', str(work_dir),
                       '--cfg-options', f'train_dataloader.dataset.data_root={data}')
    assert_work_dir_untouched(work_dir)


@pytest.mark.parametrize('case, error, message', [
    ('truncated', ValueError, 'cannot be read'),
    ('nan', ValueError, 'NaN/Inf'),
    ('pickled_object', Exception, 'refused by safe loading.*--trust-checkpoints'),
])
def test_bad_checkpoint_to_resume(monkeypatch, work_dir, tmp_path, case, error, message):
    path = tmp_path / f'{case}.pth'
    state = {f'backbone.{k}': v for k, v in mini_backbone_state(depth_scale=2).items()}
    if case == 'truncated':
        torch.save({'state_dict': state}, path)
        with open(path, 'r+b') as f:
            f.truncate(3000)
    elif case == 'nan':
        state['backbone.stages.2.blocks.1.ffn.layers.1.weight'][0, 0] = float('nan')
        torch.save({'state_dict': state}, path)
    else:
        torch.save({'state_dict': state, 'meta': dict(when=os.times())}, path)  # a posix.times_result object
    with pytest.raises(error, match=message) as info:
        run_train_tool(monkeypatch, str(CLS_DEMO), '--work-dir', str(work_dir), '--resume', str(path))
    assert str(path) in str(info.value)
    assert_work_dir_untouched(work_dir)


def test_pretrained_checkpoint_of_another_architecture(monkeypatch, work_dir, tmp_path):
    path = tmp_path / 'deeper.pth'
    torch.save(mini_backbone_state(arch=dict(embed_dims=48, depths=(2, 2, 4, 2), num_heads=(2, 4, 8, 16)),
                                   depth_scale=1, adapter=None), path)
    with pytest.raises(ValueError, match=r'stage depths \(2, 2, 4, 2\) but the model source arch has \(2, 2, 2, 2\)'):
        run_train_tool(monkeypatch, str(CLS_DEMO), '--work-dir', str(work_dir), '--cfg-options',
                       'model.backbone.init_cfg.type=Pretrained', f'model.backbone.init_cfg.checkpoint={path}')
    assert_work_dir_untouched(work_dir)


def test_pretrained_swin_file_for_a_vit_backbone_is_refused_before_the_run(monkeypatch, work_dir, tmp_path):
    """The up-front pretrained check covers both of our backbones, the ViT as well as the Swin."""
    path = tmp_path / 'swin.pth'
    torch.save(mini_backbone_state(depth_scale=1, adapter=None), path)
    config = tmp_path / 'vit_demo.py'
    config.write_text(f"""_base_ = {str(CLS_DEMO)!r}
model = dict(backbone=dict(_delete_=True, type='scalenet_mm.ScaleNetVisionTransformer',
                           arch=dict(embed_dims=48, num_layers=2, num_heads=2), img_size=32, patch_size=4,
                           init_cfg=dict(type='Pretrained', checkpoint={str(path)!r})), in_channels=48)
""")
    with pytest.raises(ValueError, match='holds a swin backbone, the model is a vit'):
        run_train_tool(monkeypatch, str(config), '--work-dir', str(work_dir))
    assert_work_dir_untouched(work_dir)


def test_unreadable_image_names_the_file_and_writes_no_checkpoint(monkeypatch, tmp_path):
    data = tmp_path / 'cifar'
    shutil.copytree(REPO / 'demo/data/cifar10_mini', data)
    broken = sorted((data / 'train').glob('*/*'))
    for image in broken:
        image.write_bytes(b'not an image')
    work = tmp_path / 'work'
    with pytest.raises(ValueError, match=r'cannot read image .*train/.*'):
        run_train_tool(monkeypatch, str(CLS_DEMO), '--work-dir', str(work), '--cfg-options',
                       f'train_dataloader.dataset.data_root={data}', f'val_dataloader.dataset.data_root={data}')
    assert not list(work.glob('*.pth'))
