"""tools/slurm_train.sh and tools/dist_{train,test}.sh pass the user's arguments to train.py / test.py as given.

A fake ``srun`` (or ``python``) on PATH writes the command line it received, one argument a line, so the tests
read exactly what a cluster would have run.
"""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECORDER = '#!/bin/sh\nfor arg in "$@"; do printf "%s\\n" "$arg"; done > "$ARGV_FILE"\n'


def run_script(script: str, args: list[str], tmp_path: Path, fake: str) -> tuple[subprocess.CompletedProcess, list]:
    """Run ``tools/<script>`` with a fake ``fake`` executable first on PATH; return the result and its argv."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / fake).write_text(RECORDER)
    (bin_dir / fake).chmod(0o755)
    argv_file = tmp_path / 'argv.txt'
    env = dict(os.environ, PATH=f'{bin_dir}{os.pathsep}{os.environ["PATH"]}', ARGV_FILE=str(argv_file),
               PYTHON=str(bin_dir / fake) if fake == 'python' else 'python')
    result = subprocess.run(['bash', f'tools/{script}', *args], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)
    argv = argv_file.read_text().splitlines() if argv_file.exists() else []
    return result, argv


def train_args(srun_argv: list[str]) -> list[str]:
    """The arguments after ``tools/train.py`` in an ``srun`` command line."""
    index = next(i for i, arg in enumerate(srun_argv) if arg.endswith('tools/train.py'))
    return srun_argv[index + 1:]


def test_slurm_option_as_fourth_argument_goes_to_train_py_not_to_work_dir(tmp_path):
    result, argv = run_script('slurm_train.sh', ['gpu', 'job', 'cfg.py', '--amp', '--cfg-options', 'a=1 2'],
                              tmp_path, 'srun')
    assert result.returncode == 0, result.stderr
    assert train_args(argv) == ['cfg.py', '--launcher=slurm', '--amp', '--cfg-options', 'a=1 2']
    assert not any(arg.startswith('--work-dir') for arg in argv)


def test_slurm_fourth_argument_without_dash_is_the_work_dir(tmp_path):
    result, argv = run_script('slurm_train.sh', ['gpu', 'job', 'cfg.py', 'work_dirs/x', '--auto-scale-lr'],
                              tmp_path, 'srun')
    assert result.returncode == 0, result.stderr
    assert argv[:2] == ['-p', 'gpu'] and '--job-name=job' in argv
    assert train_args(argv) == ['cfg.py', '--work-dir=work_dirs/x', '--launcher=slurm', '--auto-scale-lr']


def test_slurm_three_arguments_use_train_py_default_work_dir(tmp_path):
    result, argv = run_script('slurm_train.sh', ['gpu', 'job', 'cfg.py'], tmp_path, 'srun')
    assert result.returncode == 0, result.stderr
    assert train_args(argv) == ['cfg.py', '--launcher=slurm']


def test_slurm_missing_config_is_a_usage_error(tmp_path):
    result, argv = run_script('slurm_train.sh', ['gpu', 'job'], tmp_path, 'srun')
    assert result.returncode == 2 and 'usage:' in result.stderr and argv == []


@pytest.mark.parametrize('script,args', [('dist_train.sh', ['cfg.py', '--amp']),
                                         ('dist_test.sh', ['cfg.py', 'ckpt.pth', '--tta'])])
def test_dist_scripts_refuse_an_option_in_place_of_gpus(script, args, tmp_path):
    result, argv = run_script(script, args, tmp_path, 'python')
    assert result.returncode == 2, result.stderr
    assert "GPUS must be a positive number of processes, got '--" in result.stderr
    assert argv == []  # nothing was launched


def test_dist_train_passes_options_after_gpus(tmp_path):
    result, argv = run_script('dist_train.sh', ['cfg.py', '2', '--amp', '--cfg-options', 'a=1 2'], tmp_path, 'python')
    assert result.returncode == 0, result.stderr
    assert '--nproc_per_node=2' in argv
    assert argv[-6:] == ['cfg.py', '--launcher', 'pytorch', '--amp', '--cfg-options', 'a=1 2']
