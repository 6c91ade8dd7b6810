"""The parts of crash safety, one by one: atomic writes, which checkpoint an auto-resume picks, the hook's
resume decisions, and the up-front check of a dataset's image files (the whole runs are in
test_fault_injection.py)."""
import errno
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from scalenet_mm.checkpoint.resume_target import choose_auto_resume, step_checkpoints, unreadable_reason
from scalenet_mm.datasets.sample_files_check import check_sample_files, image_file_problem
from scalenet_mm.engine.atomic_local_backend import (PARTIAL_FILE, AtomicLocalBackend, leftover_partial_files,
                                                     partial_path, write_atomically)
from scalenet_mm.engine.crash_safe_checkpoint_hook import CrashSafeCheckpointHook
from scalenet_mm.engine.fault_injection_hook import FaultInjectionHook

REPO = Path(__file__).resolve().parents[1]
COCO_MINI = REPO / 'demo/data/coco_mini'
ADE_MINI = REPO / 'demo/data/ade20k_mini'


def save_checkpoint(path: Path, value: float) -> Path:
    torch.save({'meta': {}, 'state_dict': {'w': torch.full((256, 256), value)}}, path)
    return path


def point_last_checkpoint(work_dir: Path, target: Path) -> None:
    (work_dir / 'last_checkpoint').write_text(str(target))


# atomic writes ------------------------------------------------------------------------------------------------

def test_atomic_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / 'sub' / 'epoch_1.pth'
    AtomicLocalBackend().put(b'first', target)
    AtomicLocalBackend().put_text('second', target)
    assert target.read_bytes() == b'second'
    assert sorted(p.name for p in target.parent.iterdir()) == ['epoch_1.pth']
    assert PARTIAL_FILE.match(Path(partial_path(str(target))).name)


def test_a_full_disk_keeps_the_previous_file_and_says_so(tmp_path):
    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'previous')

    def full(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with mock.patch('os.fsync', full), pytest.raises(OSError, match='no space left on device; the previous file '
                                                                    'is intact') as error:
        write_atomically(b'new' * 1000, str(target))
    assert error.value.errno == errno.ENOSPC and str(target) in str(error.value)
    assert target.read_bytes() == b'previous' and leftover_partial_files(str(tmp_path)) == []


def test_leftover_partial_files_are_found_and_checkpoints_are_not(tmp_path):
    (tmp_path / '.epoch_2.pth.partial-123').write_bytes(b'half')
    (tmp_path / 'epoch_1.pth').write_bytes(b'whole')
    assert leftover_partial_files(str(tmp_path)) == [str(tmp_path / '.epoch_2.pth.partial-123')]
    assert step_checkpoints(str(tmp_path), 'epoch_{}.pth') == [(1, str(tmp_path / 'epoch_1.pth'))]


# which checkpoint an auto-resume picks ------------------------------------------------------------------------

@pytest.fixture
def work_dir(tmp_path) -> Path:
    """epoch_1..3 saved; best_acc_epoch_3 (no optimizer) must never be resumed from."""
    for epoch in (1, 2, 3):
        save_checkpoint(tmp_path / f'epoch_{epoch}.pth', epoch)
    save_checkpoint(tmp_path / 'best_acc_epoch_4.pth', 4)
    point_last_checkpoint(tmp_path, tmp_path / 'epoch_3.pth')
    return tmp_path


def damage(path: Path, how: str) -> None:
    if how == 'missing':
        path.unlink()
    elif how == 'truncated':
        os.truncate(path, path.stat().st_size // 2)
    elif how == 'empty':
        os.truncate(path, 0)
    elif how == 'bit flip':  # inside the tensor data: only the archive's CRC check can see it
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == 'not a checkpoint':
        path.write_bytes(b'<html>quota exceeded</html>')


def test_a_readable_last_checkpoint_is_taken_without_a_warning(work_dir):
    choice = choose_auto_resume(str(work_dir), str(work_dir), 'epoch_{}.pth')
    assert choice.path == str(work_dir / 'epoch_3.pth') and choice.warning is None


@pytest.mark.parametrize('how, reason', [('missing', 'does not exist'), ('truncated', 'truncated'),
                                         ('empty', 'empty'), ('bit flip', 'CRC'),
                                         ('not a checkpoint', 'not a complete torch checkpoint')])
def test_an_unreadable_last_checkpoint_falls_back_to_the_newest_readable_one_naming_both(work_dir, how, reason):
    damage(work_dir / 'epoch_3.pth', how)
    assert reason in unreadable_reason(str(work_dir / 'epoch_3.pth'))
    choice = choose_auto_resume(str(work_dir), str(work_dir), 'epoch_{}.pth')
    assert choice.path == str(work_dir / 'epoch_2.pth')
    assert str(work_dir / 'epoch_3.pth') in choice.warning and str(work_dir / 'epoch_2.pth') in choice.warning
    assert reason in choice.warning


def test_an_empty_or_missing_last_checkpoint_file_falls_back_too(work_dir):
    (work_dir / 'last_checkpoint').write_text('')
    choice = choose_auto_resume(str(work_dir), str(work_dir), 'epoch_{}.pth')
    assert choice.path == str(work_dir / 'epoch_3.pth') and 'missing or empty' in choice.warning
    (work_dir / 'last_checkpoint').unlink()
    assert choose_auto_resume(str(work_dir), str(work_dir), 'epoch_{}.pth').path == str(work_dir / 'epoch_3.pth')


def test_unreadable_checkpoints_are_skipped_and_listed(work_dir):
    damage(work_dir / 'epoch_3.pth', 'truncated')
    damage(work_dir / 'epoch_2.pth', 'empty')
    choice = choose_auto_resume(str(work_dir), str(work_dir), 'epoch_{}.pth')
    assert choice.path == str(work_dir / 'epoch_1.pth') and f'skipped {work_dir / "epoch_2.pth"}' in choice.warning


def test_with_no_readable_checkpoint_the_run_starts_afresh_with_a_warning(work_dir, tmp_path_factory):
    for epoch in (1, 2, 3):
        damage(work_dir / f'epoch_{epoch}.pth', 'truncated')
    choice = choose_auto_resume(str(work_dir), str(work_dir), 'epoch_{}.pth')
    assert choice.path is None and 'no readable checkpoint' in choice.warning
    assert 'starts from the beginning' in choice.warning
    empty = tmp_path_factory.mktemp('fresh')
    assert choose_auto_resume(str(empty), str(empty), 'epoch_{}.pth') == type(choice)(None, None)


# the hook's decisions before the Runner loads anything --------------------------------------------------------

def runner_stub(work_dir: Path, resume: bool, load_from) -> SimpleNamespace:
    return SimpleNamespace(_resume=resume, _load_from=load_from, work_dir=str(work_dir))


def test_hook_redirects_an_auto_resume_to_the_readable_checkpoint(work_dir):
    damage(work_dir / 'epoch_3.pth', 'truncated')
    runner = runner_stub(work_dir, True, None)
    CrashSafeCheckpointHook(interval=1).before_run(runner)
    assert runner._resume and runner._load_from == str(work_dir / 'epoch_2.pth')


def test_hook_starts_afresh_when_an_auto_resume_finds_nothing_readable(tmp_path):
    save_checkpoint(tmp_path / 'epoch_1.pth', 1)
    damage(tmp_path / 'epoch_1.pth', 'truncated')
    point_last_checkpoint(tmp_path, tmp_path / 'epoch_1.pth')
    runner = runner_stub(tmp_path, True, None)
    CrashSafeCheckpointHook(interval=1).before_run(runner)
    assert runner._resume is False and runner._load_from is None


def test_hook_never_falls_back_from_a_named_checkpoint(work_dir):
    damage(work_dir / 'epoch_2.pth', 'truncated')
    runner = runner_stub(work_dir, True, str(work_dir / 'epoch_2.pth'))
    with pytest.raises(ValueError, match=r'cannot resume from .*epoch_2\.pth: .*truncated.*--resume without a file'):
        CrashSafeCheckpointHook(interval=1).before_run(runner)
    assert runner._load_from == str(work_dir / 'epoch_2.pth')


def test_hook_leaves_a_run_that_does_not_resume_alone(work_dir):
    runner = runner_stub(work_dir, False, str(work_dir / 'missing.pth'))  # load_from: weights only, mmengine's job
    CrashSafeCheckpointHook(interval=1).before_run(runner)
    assert runner._resume is False and runner._load_from == str(work_dir / 'missing.pth')


@pytest.mark.parametrize('kwargs', [dict(backend_args=dict(backend='petrel')), dict(file_client_args={}),
                                    dict(out_dir='s3://bucket/runs')])
def test_hook_refuses_storage_it_cannot_write_atomically(kwargs):
    with pytest.raises(ValueError, match="mmengine's CheckpointHook"):
        CrashSafeCheckpointHook(interval=1, **kwargs)


@pytest.mark.parametrize('kwargs, message', [(dict(point='reboot', at=1), 'not one of'),
                                             (dict(point='validation', at=0), 'at=0')])
def test_fault_injection_hook_refuses_unknown_points(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FaultInjectionHook(**kwargs)


# every shipped config saves through the crash-safe hook and checks its data files ------------------------------

def shipped_configs() -> list[Path]:
    return sorted(p for p in (REPO / 'configs').rglob('*.py') if '_base_' not in p.parts)


@pytest.mark.parametrize('config', shipped_configs(), ids=lambda p: p.name)
def test_every_config_saves_crash_safe_and_checks_its_data_files(config):
    hooks = Config.fromfile(str(config)).default_hooks
    assert hooks.checkpoint.type == 'scalenet_mm.CrashSafeCheckpointHook'
    assert hooks.data_check.type == 'scalenet_mm.DataFilesCheckHook'


# image files checked up front, naming the sample -------------------------------------------------------------

def test_image_file_problems_are_named(tmp_path):
    jpeg = next((COCO_MINI / 'images').iterdir())
    png = next((ADE_MINI / 'ADEChallengeData2016/annotations/training').iterdir())
    assert image_file_problem(str(jpeg)) is None and image_file_problem(str(png)) is None
    cases = {'missing.jpg': None, 'empty.jpg': b'', 'text.jpg': b'not an image',
             'cut.jpg': jpeg.read_bytes()[:jpeg.stat().st_size // 2], 'cut.png': png.read_bytes()[:-40]}
    expected = {'missing.jpg': 'does not exist', 'empty.jpg': 'empty', 'text.jpg': 'not a readable image',
                'cut.jpg': 'end-of-image marker', 'cut.png': 'not a readable image'}
    for name, data in cases.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        assert expected[name] in image_file_problem(str(tmp_path / name)), name


def build_dataset(config: Path, key: str, **dataset):
    from mmengine.registry import DATASETS
    cfg = Config.fromfile(str(config))
    init_default_scope(cfg.default_scope)
    return DATASETS.build({**cfg[key].dataset, **dataset})


def test_a_truncated_coco_image_is_named_with_its_sample_index(tmp_path):
    data = tmp_path / 'coco'
    shutil.copytree(COCO_MINI, data)
    dataset = build_dataset(REPO / 'configs/demo/mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py',
                            'train_dataloader', data_root=str(data) + '/')
    assert check_sample_files(dataset, 'train_dataloader') == len(dataset)
    index = 3
    path = Path(dataset.get_data_info(index)['img_path'])
    os.truncate(path, path.stat().st_size // 2)
    with pytest.raises(ValueError, match=rf'train_dataloader: sample {index} of {len(dataset)} in CocoDataset: '
                                         rf'cannot read image {path} \(img_path\): .*truncated'):
        check_sample_files(dataset, 'train_dataloader')


def test_a_corrupt_ade20k_label_map_is_named_with_its_sample_index(tmp_path):
    data = tmp_path / 'ade'
    shutil.copytree(ADE_MINI / 'ADEChallengeData2016', data)
    dataset = build_dataset(REPO / 'configs/demo/upernet_scalenet-swin-mini-d2x_ade20k-mini.py', 'val_dataloader',
                            data_root=str(data))
    index = len(dataset) - 1
    path = Path(dataset.get_data_info(index)['seg_map_path'])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=rf'val_dataloader: sample {index} of {len(dataset)} in ADE20KDataset: '
                                         rf'cannot read image {path} \(seg_map_path\)'):
        check_sample_files(dataset, 'val_dataloader')


def test_mmdets_own_train_tool_stops_on_a_truncated_image_before_the_first_iteration(tmp_path):
    import subprocess
    import sys

    import mmdet
    data = tmp_path / 'coco'
    shutil.copytree(COCO_MINI, data)
    config = REPO / 'configs/demo/mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py'
    dataset = build_dataset(config, 'train_dataloader', data_root=str(data) + '/')
    path = Path(dataset.get_data_info(5)['img_path'])
    os.truncate(path, path.stat().st_size - 4000)
    work = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, str(Path(mmdet.__file__).parent / '.mim/tools/train.py'), str(config), '--work-dir', str(work),
         '--cfg-options', f'train_dataloader.dataset.data_root={data}/', f'val_dataloader.dataset.data_root={data}/'],
        capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert result.returncode != 0
    assert f'train_dataloader: sample 5 of {len(dataset)} in CocoDataset: cannot read image {path}' in result.stderr
    assert 'Iter(train)' not in result.stdout + result.stderr and not list(work.glob('*.pth'))


def test_the_previous_best_checkpoint_is_removed_only_after_the_new_best_is_written(tmp_path):
    """mmengine removes the old best file first: a kill in between would leave no best checkpoint."""
    import logging

    from mmengine.logging import MessageHub
    seen_at_save = []

    def save_checkpoint(out_dir, filename, *args, **kwargs):
        seen_at_save.append(sorted(p.name for p in tmp_path.glob('best_*.pth')))
        (tmp_path / filename).write_bytes(b'weights')

    runner = SimpleNamespace(work_dir=str(tmp_path), logger=logging.getLogger('test'), epoch=1, iter=2,
                             message_hub=MessageHub('crash-safe-best-test'),  # not registered globally
                             save_checkpoint=save_checkpoint)
    hook = CrashSafeCheckpointHook(interval=1, save_best='acc', rule='greater')
    hook.before_train(runner)
    hook._save_best_checkpoint(runner, {'acc': 0.5})
    runner.epoch, runner.iter = 2, 4
    hook._save_best_checkpoint(runner, {'acc': 0.6})
    assert seen_at_save == [[], ['best_acc_epoch_1.pth']]  # the old best was still there while the new one was written
    assert sorted(p.name for p in tmp_path.glob('best_*.pth')) == ['best_acc_epoch_2.pth']
