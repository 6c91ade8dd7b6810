"""Nothing lost when a run dies: real training processes (the demo configs, one and two processes, our
tools/train.py and mmdet's/mmseg's own) are killed with SIGKILL at chosen points or meet a full disk
(``tools/analysis/inject_faults.py``), resumed with ``--resume``, and compared with the uninterrupted run."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scalenet_mm.checkpoint.resume_target import unreadable_reason

REPO = Path(__file__).resolve().parents[1]
TOOL = REPO / 'tools' / 'analysis' / 'inject_faults.py'
CLS_DEMO = REPO / 'configs/demo/scalenet-swin-mini-d2x_cifar10-mini.py'
DET_DEMO = REPO / 'configs/demo/mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py'
SEG_DEMO = REPO / 'configs/demo/upernet_scalenet-swin-mini-d2x_ade20k-mini.py'
# 64 images in batches of 32: 2 iterations per epoch, 3 epochs, validation and a checkpoint after every epoch,
# only the newest checkpoint kept (so a retired checkpoint removed too early would show); resume is exact here
CLS_OPTIONS = ['train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=32', 'train_cfg.max_epochs=3',
               'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
               'default_hooks.checkpoint.max_keep_ckpts=1', 'randomness.seed=0', 'randomness.deterministic=True',
               'model.backbone.trainable=adapters_norms']
# 4 iterations, a checkpoint every 2 (the newest kept), validation at the end
ITER_OPTIONS = ['train_cfg.max_iters=4', 'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=2',
                'default_hooks.checkpoint.max_keep_ckpts=1', 'param_scheduler=[]', 'randomness.seed=0']


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def inject(work_dir: Path, config: Path, *args: str, options: list[str]) -> tuple[int, dict[str, dict]]:
    """Run the fault tool; its exit status and its records by scenario."""
    result = subprocess.run([sys.executable, str(TOOL), str(config), '--work-dir', str(work_dir), *args,
                             '--cfg-options', *options], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'})
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')]
    assert records, result.stderr[-3000:]
    return result.returncode, {record['scenario']: record for record in records}


@pytest.fixture(scope='module')
def single_process_faults(tmp_path_factory):
    return inject(tmp_path_factory.mktemp('faults') / 'runs', CLS_DEMO, '--faults', 'checkpoint_write:2',
                  'between_iterations:3', 'validation:2', 'disk_full:2', options=CLS_OPTIONS)


def assert_nothing_lost(record: dict) -> None:
    assert record['interrupted'] and record['finished'], record
    assert record['unreadable_checkpoints'] == [] and record['checkpoints_lost'] == 0, record
    assert record['final']['partial_files'] == [], 'the temporary file of the killed write was not cleaned up'


def test_every_fault_resumes_to_the_uninterrupted_result_bit_for_bit(single_process_faults):
    returncode, records = single_process_faults
    assert returncode == 0
    assert set(records) == {'checkpoint_write-2', 'between_iterations-3', 'validation-2', 'disk_full-2'}
    for record in records.values():
        assert_nothing_lost(record)
        assert record['bit_for_bit'], record['differing']


def test_kill_during_a_checkpoint_write_leaves_the_previous_checkpoint_and_only_a_hidden_partial_file(
        single_process_faults):
    after = single_process_faults[1]['checkpoint_write-2']['after_fault']
    # max_keep_ckpts=1: epoch_1 is retired only once epoch_2 is safely written, which never happened
    assert after['checkpoints'] == ['epoch_1.pth'] and after['last_checkpoint'] == 'epoch_1.pth'
    assert len(after['partial_files']) == 1 and after['partial_files'][0].startswith('.epoch_2.pth.partial-')


def test_kills_between_iterations_and_during_validation_resume_from_the_last_saved_epoch(single_process_faults):
    records = single_process_faults[1]
    assert records['between_iterations-3']['after_fault']['checkpoints'] == ['epoch_1.pth']
    assert records['validation-2']['after_fault']['checkpoints'] == ['epoch_2.pth']
    assert all(r['returncode'] == -9 for r in records.values() if r['scenario'] != 'disk_full-2')


def test_full_disk_stops_the_run_with_a_clear_message_and_keeps_the_previous_checkpoint(single_process_faults):
    record = single_process_faults[1]['disk_full-2']
    assert record['returncode'] == 1
    assert 'no space left on device' in record['error'] and 'epoch_1.pth is intact' in record['error']
    assert 'resume with --resume' in record['error']
    after = record['after_fault']
    assert after['checkpoints'] == ['epoch_1.pth'] and after['partial_files'] == []


def test_two_processes_killed_during_a_checkpoint_write_resume_bit_for_bit(tmp_path):
    returncode, records = inject(tmp_path / 'runs', CLS_DEMO, '--nproc', '2', '--port', str(free_port()),
                                 '--faults', 'checkpoint_write:2', options=CLS_OPTIONS)
    record = records['checkpoint_write-2']
    assert returncode == 0 and record['nproc'] == 2
    assert_nothing_lost(record)
    assert record['bit_for_bit'], record['differing']


def test_mmengines_own_checkpoint_hook_loses_the_run_to_the_same_kill(tmp_path):
    """The control: mmengine removes the retired checkpoint before writing the new one, in place."""
    returncode, records = inject(tmp_path / 'runs', CLS_DEMO, '--checkpoint-hook', 'mmengine',
                                 '--faults', 'checkpoint_write:2', options=CLS_OPTIONS)
    record = records['checkpoint_write-2']
    assert returncode == 1 and not record['finished'] and not record['resumable_after_fault']
    assert record['checkpoints_lost'] == 1  # epoch_1, removed before epoch_2 was written
    assert record['unreadable_checkpoints'] == ['epoch_2.pth']
    assert record['after_fault']['last_checkpoint'] == 'epoch_1.pth'
    assert not record['after_fault']['last_checkpoint_readable']


@pytest.mark.parametrize('config, tool', [(DET_DEMO, 'mmdet'), (SEG_DEMO, 'mmseg')], ids=['mmdet', 'mmseg'])
def test_iteration_based_demos_under_their_own_libraries_train_tool_survive_a_kill_during_a_write(
        tmp_path, config, tool):
    returncode, records = inject(tmp_path / 'runs', config, '--train-tool', tool, '--faults', 'checkpoint_write:2',
                                 options=ITER_OPTIONS + (['custom_hooks=[]'] if tool == 'mmseg' else []))
    record = records['checkpoint_write-2']
    assert returncode == 0 and record['train_tool'] == tool
    assert_nothing_lost(record)
    assert record['after_fault']['checkpoints'] == ['iter_2.pth'] and record['same_step']
    assert record['final']['checkpoints'] == ['iter_4.pth']


def test_auto_resume_after_a_power_loss_falls_back_to_the_newest_readable_checkpoint(tmp_path):
    """A checkpoint that ``last_checkpoint`` names, truncated after the process died (data never reached the
    disk): ``--resume`` warns, naming both files, resumes from the one before, and ends bit for bit equal."""
    import runpy
    tool = runpy.run_path(str(TOOL))
    args = tool['parse_args']([str(CLS_DEMO), '--work-dir', str(tmp_path / 'runs'), '--faults', 'between_iterations:5',
                               '--cfg-options', *CLS_OPTIONS, 'default_hooks.checkpoint.max_keep_ckpts=2'])
    clean = tool['write_config'](args, tmp_path / 'clean.py', None)
    killed = tool['write_config'](args, tmp_path / 'killed.py', ('between_iterations', 5))
    reference, work = tmp_path / 'reference', tmp_path / 'work'
    assert tool['run'](tool['train_command'](args, clean, reference, resume=False)).returncode == 0
    assert tool['run'](tool['train_command'](args, killed, work, resume=False)).returncode == -9
    newest = work / 'epoch_2.pth'
    assert (work / 'last_checkpoint').read_text().endswith('epoch_2.pth')
    os.truncate(newest, newest.stat().st_size // 3)
    resumed = tool['run'](tool['train_command'](args, clean, work, resume=True))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    warning = next(line for line in resumed.stdout.splitlines() if 'cannot be resumed from' in line)
    assert str(newest) in warning and str(work / 'epoch_1.pth') in warning
    assert tool['compare'](reference, work)['bit_for_bit']
    assert unreadable_reason(str(work / 'epoch_3.pth')) is None
