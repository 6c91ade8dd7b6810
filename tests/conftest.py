"""Shared helpers for the tests: small architectures and an independent untied copy of a model."""
import os
import random
import re
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
import torch

import scalenet_mm  # noqa: F401  (registers modules, safe-loading allow-list)
from scalenet_mm.models.backbones.scalenet_swin import ScaleNetSwinTransformer

import process_state

# a small Swin for fast tests: 4 stages of depth 2, width 16 -> 128
SMALL_ARCH = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


DEMO_TRAININGS = {'trained_detection_demo', 'trained_segmentation_demo'}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption('--file-order', default='collected', metavar='ORDER',
                     help="order of the test files: 'collected' (default), 'reversed' or 'shuffled:SEED'; the tests "
                          'of a file keep their order (docs/testing.md: order independence)')


def file_order(items: list[pytest.Item], order: str) -> list[pytest.Item]:
    """``items`` with their files in ``order`` (see ``--file-order``), each file's tests in collection order."""
    files = list(dict.fromkeys(item.nodeid.split('::')[0] for item in items))
    if order == 'reversed':
        files.reverse()
    elif order.startswith('shuffled:') and order[len('shuffled:'):].isdigit():
        random.Random(int(order[len('shuffled:'):])).shuffle(files)
    elif order != 'collected':
        raise pytest.UsageError(f"--file-order={order!r}: use 'collected', 'reversed' or 'shuffled:SEED' (an integer)")
    rank = {name: index for index, name in enumerate(files)}
    return sorted(items, key=lambda item: rank[item.nodeid.split('::')[0]])


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files in ``--file-order``, and groups for pytest-xdist's ``--dist loadgroup`` (``make test``): every test
    that uses the demo trainings runs on one worker, so they train once; every other test runs with the rest of
    its file, so a module's fixtures are built once."""
    items[:] = file_order(items, config.getoption('--file-order'))
    for item in items:
        group = 'demo_trainings' if DEMO_TRAININGS & set(item.fixturenames) else item.nodeid.split('::')[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


_STATE_AFTER_LAST_TEST: dict = {}


@pytest.fixture(autouse=True)
def _restores_process_state(request) -> Iterator[None]:
    """Fail a test that leaves process-wide state changed (torch flags, autocast, environment, a monkeypatched
    torch function...): it would change the numbers of the next test on the same worker. A change between two
    tests (a module or session fixture set up or torn down) fails the later test, naming its fixtures."""
    before = process_state.snapshot()
    between = process_state.changes(_STATE_AFTER_LAST_TEST, before) if _STATE_AFTER_LAST_TEST else []
    if between:
        _STATE_AFTER_LAST_TEST.clear()
        pytest.fail(f'process-wide state changed before this test, in the setup or teardown of one of its fixtures '
                    f'{request.fixturenames} or a previous module\'s:\n  ' + '\n  '.join(between), pytrace=False)
    yield
    after = process_state.snapshot()
    _STATE_AFTER_LAST_TEST.clear()
    _STATE_AFTER_LAST_TEST.update(after)
    changed = process_state.changes(before, after)
    if changed:
        pytest.fail('the test changed process-wide state and did not restore it:\n  ' + '\n  '.join(changed),
                    pytrace=False)


def perturb_(model: torch.nn.Module, std: float = 0.05) -> torch.nn.Module:
    """Give every parameter (zero-initialised adapter ``up`` and norms included) non-trivial values."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'norm' in name:
                param.add_(torch.randn_like(param) * 0.1)
            else:
                param.normal_(0, std)
    return model


def build(**kwargs) -> ScaleNetSwinTransformer:
    """A small ScaleNet Swin (drop-path off so outputs are deterministic), randomly initialised."""
    kwargs.setdefault('arch', SMALL_ARCH)
    kwargs.setdefault('drop_path_rate', 0.0)
    kwargs.setdefault('window_size', 4)
    model = ScaleNetSwinTransformer(**kwargs)
    model.init_weights()
    return model


def untied_copy(model: ScaleNetSwinTransformer, **kwargs) -> ScaleNetSwinTransformer:
    """The same function with every position owning a copy of its block (``unshare=True``)."""
    untied = ScaleNetSwinTransformer(unshare=True, **kwargs)
    shared_state = model.state_dict()
    state = {}
    for key, value in untied.state_dict().items():
        match = re.match(r'stages\.(\d+)\.blocks\.(\d+)\.(.*)', key)
        if match:
            stage, position, rest = int(match[1]), int(match[2]), match[3]
            block = model.stages[stage].position_block[position]
            state[key] = shared_state[f'stages.{stage}.blocks.{block}.{rest}'].clone()
        elif key.endswith('layer_map'):
            state[key] = value
        else:
            state[key] = shared_state[key].clone()
    untied.load_state_dict(state, strict=True)
    return untied


def assert_same(a, b, where: str = '') -> None:
    """``a`` and ``b`` (tensors, dicts, lists, plain values nested) are equal exactly: same keys, dtypes, values."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f'{where}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f'{where}[{i}]')
    else:
        assert a == b, where


def one_iteration_cfg(config, work_dir, **backbone):
    """A demo config cut to one training iteration, one evaluation and a checkpoint, backbone overridden."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 1
    cfg.param_scheduler = []
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint.interval = 1
    cfg.model.backbone.update(backbone)
    return cfg


def train_with_our_tool(config, work_dir, *args: str) -> None:
    """``python tools/train.py CONFIG --work-dir WORK_DIR [ARGS]`` from the repository root; raises on failure."""
    import subprocess
    import sys
    from pathlib import Path
    result = subprocess.run([sys.executable, 'tools/train.py', str(config), '--work-dir', str(work_dir), *args],
                            cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def run_two_iterations_with(train_tool, config, work_dir, *cfg_options: str) -> str:
    """Run an OpenMMLab ``tools/train.py`` (mmdet's or mmseg's own) for two iterations; returns its output."""
    import subprocess
    import sys
    result = subprocess.run(
        [sys.executable, str(train_tool), str(config), '--work-dir', str(work_dir), '--cfg-options',
         'train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2', *cfg_options],
        cwd=work_dir, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work_dir / 'iter_2.pth').is_file()
    return result.stdout + result.stderr


REPO = Path(__file__).resolve().parents[1]


def run_script(script: str, *args) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS`` from the repository root, run in-process: the tests' imports are shared, which
    saves the seconds a fresh interpreter spends importing torch and OpenMMLab. For requests a script must
    refuse, or that do no training (the scripts do their work under ``__main__`` only). Returns what
    ``subprocess.run`` would: ``returncode`` 0, argparse's exit status, or 1 for an exception (its
    ``Type: message`` appended to ``stderr``)."""
    import contextlib
    import io
    import runpy
    import sys
    from unittest import mock
    path = REPO / script
    assert path.is_file(), f'{script} does not exist'
    argv = [str(path), *map(str, args)]
    out, err, code = io.StringIO(), io.StringIO(), 0
    # the environment too: a tool sets LOCAL_RANK, and --trust-checkpoints TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD
    with contextlib.chdir(REPO), mock.patch.object(sys, 'argv', argv), mock.patch.dict(os.environ), \
            mock.patch.object(sys, 'path', [str(path.parent), *sys.path]), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            runpy.run_path(str(path), run_name='__main__')
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
            if isinstance(exit_.code, str):  # sys.exit('message') prints it, as the interpreter does
                err.write(exit_.code + '\n')
        except Exception as error:  # noqa: BLE001  (reported like the interpreter would, as exit status 1)
            code = 1
            err.write(f'{type(error).__name__}: {error}\n')
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


DETECTION_DEMO = REPO / 'configs' / 'demo' / 'mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py'
SEGMENTATION_DEMO = REPO / 'configs' / 'demo' / 'upernet_scalenet-swin-mini-d2x_ade20k-mini.py'
CLASSIFICATION_DEMO = REPO / 'configs' / 'demo' / 'scalenet-swin-mini-d2x_cifar10-mini.py'


@pytest.fixture(scope='session')
def trained_detection_demo(tmp_path_factory) -> Path:
    """The README's detection demo trained once per test run: 200 iterations with our tools/train.py."""
    work_dir = tmp_path_factory.mktemp('det_demo')
    train_with_our_tool(DETECTION_DEMO, work_dir)
    return work_dir


@pytest.fixture(scope='session')
def trained_segmentation_demo(tmp_path_factory) -> Path:
    """The README's segmentation demo trained once per test run: 200 iterations with our tools/train.py."""
    work_dir = tmp_path_factory.mktemp('seg_demo')
    train_with_our_tool(SEGMENTATION_DEMO, work_dir)
    return work_dir


def classification_demo_cfg(work_dir: Path):
    """The classification demo config cut to 2 iterations with Mixup/CutMix, one evaluation, a checkpoint."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(CLASSIFICATION_DEMO))
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    cfg.param_scheduler = []
    cfg.train_dataloader.dataset.indices = 8
    cfg.train_dataloader.batch_size = 4
    cfg.val_dataloader.dataset.indices = 10
    cfg.default_hooks.checkpoint.interval = 1
    cfg.model.mixup = dict(mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0)
    return cfg


@pytest.fixture(scope='session')
def trained_classifier(tmp_path_factory):
    """The classification demo trained once per test run: its runner and checkpoint."""
    from mmengine.runner import Runner
    work_dir = tmp_path_factory.mktemp('cls')
    runner = Runner.from_cfg(classification_demo_cfg(work_dir))
    runner.train()
    return runner, work_dir / 'epoch_1.pth'


@pytest.fixture(scope='module')
def timm_models():
    """``get(arch)``: a random timm Swin of ``arch`` (``released_layouts.random_timm_swin``), built once per module."""
    from released_layouts import random_timm_swin
    cache = {}

    def get(arch: str):
        if arch not in cache:
            cache[arch] = random_timm_swin(arch)
        return cache[arch]
    return get
