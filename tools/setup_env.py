#!/usr/bin/env python
"""Install a working OpenMMLab stack for scalenet_mm into the running Python environment.

Usage: ``python tools/setup_env.py [--check-only] [--rebuild-mmcv]``

What it does, skipping every step that is already satisfied (a second run takes seconds):

1. torch + torchvision, if torch is absent (default pins: torch 2.14.1, torchvision 0.29.1).
2. Build tooling for mmcv: ``setuptools>=77,<81`` (mmcv's ``setup.py`` imports ``pkg_resources``), wheel,
   ninja.
3. mmcv 2.1.0 **with compiled ops**, built from the PyPI sdist (mmcv 2.x publishes no wheels for current
   torch): the source is patched to the C++ standard the installed torch needs (C++20 for torch >= 2.10
   headers), built with ``--no-build-isolation`` against the installed torch, ``MAX_JOBS`` set from the
   core count, CUDA ops when torch sees a GPU and a CUDA toolkit exists, CPU ops otherwise. The built
   wheel is cached in ``$SCALENET_MM_CACHE`` (default ``~/.cache/scalenet_mm``) per torch version,
   CUDA version and Python tag, and reused.
4. mmengine 0.10.7, mmdet 3.3.0, mmsegmentation 1.2.2, timm, pycocotools, ftfy, regex, matplotlib, pytest,
   pytest-xdist.
5. This package, editable (``pip install -e . --no-deps``).
6. Verification: ``mmcv.ops.nms`` and ``mmcv.ops.roi_align`` agree with torchvision on small tensors
   (on the GPU too when the CUDA ops were built), ``mmdet.models`` and ``mmseg.models`` import, and
   ``scalenet_mm`` registers its scope. Any failure exits non-zero with the reason.

Only the standard library is used here, so the script runs before anything is installed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO_ROOT / 'requirements'
DEFAULT_TORCH = os.environ.get('SCALENET_MM_TORCH', 'torch==2.14.1')
TORCHVISION_FOR_TORCH = {'2.14.1': '0.29.1', '2.13.0': '0.28.0', '2.9.1': '0.24.1'}
MMCV_VERSION = '2.1.0'
BUILD_TOOLS = ['setuptools>=77,<81', 'wheel', 'ninja']
CACHE_DIR = Path(os.environ.get('SCALENET_MM_CACHE', Path.home() / '.cache' / 'scalenet_mm'))

# Runs in a fresh interpreter so that it sees what pip just installed. Prints one JSON line.
PROBE = r'''
import importlib, importlib.metadata as md, json, sys
def version(dist):
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None
info = {name: version(dist) for name, dist in [
    ('torch', 'torch'), ('torchvision', 'torchvision'), ('mmengine', 'mmengine'), ('mmcv', 'mmcv'),
    ('mmdet', 'mmdet'), ('mmseg', 'mmsegmentation'), ('timm', 'timm'), ('pycocotools', 'pycocotools'),
    ('ftfy', 'ftfy'), ('regex', 'regex'), ('matplotlib', 'matplotlib'), ('pytest', 'pytest'),
    ('pytest-xdist', 'pytest-xdist'),
    ('setuptools', 'setuptools'), ('wheel', 'wheel'), ('ninja', 'ninja'), ('scalenet_mm', 'scalenet_mm')]}
info['mmcv_ext'] = False
info['cuda_available'] = False
info['cuda_home'] = None
info['torch_cuda'] = None
if info['torch']:
    try:
        import torch
        info['cuda_available'] = torch.cuda.is_available()
        info['torch_cuda'] = torch.version.cuda
        from torch.utils.cpp_extension import CUDA_HOME
        info['cuda_home'] = CUDA_HOME
        info['torch_include'] = str(__import__('pathlib').Path(torch.__file__).parent / 'include')
    except Exception as exc:  # reported, not hidden: the caller decides
        info['torch_error'] = repr(exc)
if info['mmcv']:
    try:
        importlib.import_module('mmcv._ext')
        info['mmcv_ext'] = True
    except Exception as exc:
        info['mmcv_ext_error'] = repr(exc)
try:
    import scalenet_mm
    info['scalenet_mm_path'] = scalenet_mm.__file__
except Exception as exc:
    info['scalenet_mm_path'] = None
print('PROBE' + json.dumps(info))
'''

VERIFY = r'''
import torch, torchvision
from mmcv.ops import nms, roi_align
devices = ['cpu'] + (['cuda'] if {with_cuda} and torch.cuda.is_available() else [])
gen = torch.Generator().manual_seed(0)
for device in devices:
    xy = torch.rand(64, 2, generator=gen) * 50
    wh = torch.rand(64, 2, generator=gen) * 30 + 1
    boxes = torch.cat([xy, xy + wh], dim=1).to(device)
    scores = torch.rand(64, generator=gen).to(device)
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    ref_keep = torchvision.ops.nms(boxes, scores, 0.5)
    assert torch.equal(keep.cpu().sort().values, ref_keep.cpu().sort().values), (device, keep, ref_keep)
    feats = torch.rand(2, 3, 16, 20, generator=gen).to(device)
    rois = torch.tensor([[0, 1.0, 2.0, 9.5, 12.0], [1, 0.0, 0.0, 15.0, 15.0], [0, 4.2, 3.3, 6.1, 7.7]],
                        device=device)
    ours = roi_align(feats, rois, (4, 4), 0.5, 2, 'avg', True)
    ref = torchvision.ops.roi_align(feats, rois, (4, 4), 0.5, 2, aligned=True)
    err = (ours - ref).abs().max().item()
    assert err < 1e-5, f'roi_align on {device} differs from torchvision by {err}'
    print(f'mmcv.ops nms/roi_align on {device}: match torchvision (max |diff| {err:.1e})')
from mmcv.ops import get_compiling_cuda_version
compiled = get_compiling_cuda_version()
print(f'mmcv ops compiled for CUDA: {compiled}')
if torch.cuda.is_available() and compiled == 'not available':
    print('WARNING: torch sees a GPU but mmcv\'s ops were compiled for the CPU only (no CUDA toolkit, nvcc, was '
          'found when they were built): models using mmcv ops on the GPU (Mask R-CNN: RoIAlign, NMS) fail there. '
          f'Install the CUDA toolkit of torch\'s CUDA {torch.version.cuda}, set CUDA_HOME, and run '
          'python tools/setup_env.py --rebuild-mmcv')
import mmdet.models, mmseg.models, mmdet, mmseg, mmcv, mmengine
import scalenet_mm
print(f'mmdet {mmdet.__version__} / mmseg {mmseg.__version__} models import; '
      f'mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, torch {torch.__version__}, '
      f'scalenet_mm {scalenet_mm.__version__}')
'''


def log(message: str) -> None:
    """Print a progress line immediately (the build runs for a long time)."""
    print(f'[setup_env {time.strftime("%H:%M:%S")}] {message}', flush=True)


def fail(message: str) -> None:
    """Stop with a clear reason and a non-zero exit status."""
    print(f'[setup_env] FAILED: {message}', file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    """Run a command, streaming its output; fail loudly on a non-zero exit."""
    log('$ ' + ' '.join(cmd))
    result = subprocess.run(cmd, env=env, cwd=cwd)
    if result.returncode != 0:
        fail(f'command exited with {result.returncode}: {" ".join(cmd)}')


def pip(*args: str, env: dict[str, str] | None = None) -> None:
    """Run pip of the running interpreter."""
    run([sys.executable, '-m', 'pip', *args], env=env)


def probe() -> dict:
    """Return what is installed in this environment (versions, mmcv ops, CUDA), from a fresh process."""
    # run outside the repository, so that only an *installed* scalenet_mm is found
    out = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True, cwd=tempfile.gettempdir())
    for line in out.stdout.splitlines():
        if line.startswith('PROBE'):
            return json.loads(line[len('PROBE'):])
    fail(f'could not inspect the Python environment:\n{out.stdout}\n{out.stderr}')
    raise AssertionError  # unreachable: fail() exits


def read_requirements(name: str) -> list[str]:
    """Requirement lines of ``requirements/<name>.txt``, comments removed."""
    lines = (REQUIREMENTS / f'{name}.txt').read_text().splitlines()
    return [line.split('#')[0].strip() for line in lines if line.split('#')[0].strip()]


def requirement_satisfied(requirement: str, installed: str | None) -> bool:
    """True when ``installed`` satisfies a ``name==v`` / ``name>=v`` / ``name<v`` / bare requirement."""
    if installed is None:
        return False
    for op, bound in re.findall(r'(==|>=|<=|<|>)\s*([0-9][0-9a-zA-Z.]*)', requirement):
        have, want = _version_tuple(installed), _version_tuple(bound)
        if not {'==': have == want, '>=': have >= want, '<=': have <= want, '<': have < want,
                '>': have > want}[op]:
            return False
    return True


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r'\d+', version.split('+')[0])[:3])


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement line (``mmdet==3.3.0`` -> ``mmdet``)."""
    return re.split(r'[<>=!~\[; ]', requirement, maxsplit=1)[0].strip().lower()


PROBE_KEYS = {'mmsegmentation': 'mmseg', 'scalenet-mm': 'scalenet_mm'}


def ensure_torch(info: dict) -> dict:
    """Install torch and torchvision when missing; a present torch is kept as it is."""
    if info['torch'] is None:
        torch_version = DEFAULT_TORCH.split('==')[-1]
        vision = TORCHVISION_FOR_TORCH.get(torch_version)
        specs = [DEFAULT_TORCH] + ([f'torchvision=={vision}'] if vision else ['torchvision'])
        log(f'torch is not installed: installing {" ".join(specs)} (several GB on x86_64)')
        pip('install', *specs)
        info = probe()
    if info['torchvision'] is None:
        torch_version = info['torch'].split('+')[0]
        vision = TORCHVISION_FOR_TORCH.get(torch_version)
        if vision is None:
            fail(f'torchvision is missing and no tested pairing exists for torch {info["torch"]}: '
                 'install the torchvision release built for your torch, then rerun')
        pip('install', f'torch=={info["torch"]}', f'torchvision=={vision}')
        info = probe()
    if info.get('torch_error'):
        fail(f'torch does not import: {info["torch_error"]}')
    return info


def ensure_build_tools(info: dict) -> None:
    """setuptools below 81 keeps ``pkg_resources`` (mmcv's setup.py imports it); ninja speeds the build."""
    missing = [r for r in BUILD_TOOLS if not requirement_satisfied(r, info.get(requirement_name(r)))]
    if missing:
        pip('install', *missing)


def torch_needs_cxx20(torch_include: str) -> bool:
    """True when torch's headers refuse to compile below C++20 (``ATen/ATen.h`` says so since torch 2.10)."""
    aten = Path(torch_include) / 'ATen' / 'ATen.h'
    return aten.is_file() and 'C++20 or later' in aten.read_text(errors='ignore')


def mmcv_cache_dir(info: dict, with_cuda: bool) -> Path:
    """Cache folder of a built mmcv wheel: one per torch build, accelerator and Python tag."""
    accel = f'cu{info["torch_cuda"]}' if with_cuda else 'cpu'
    tag = f'py{sys.version_info.major}{sys.version_info.minor}'
    return CACHE_DIR / 'mmcv' / f'mmcv-{MMCV_VERSION}_torch-{info["torch"]}_{accel}_{tag}'


def patch_mmcv_setup(setup_py: Path, cxx_std: str) -> None:
    """Raise the hard-coded C++ standard of mmcv's setup.py for both g++ and nvcc."""
    text = setup_py.read_text()
    patched = text.replace("'-std=c++17'", f"'-std={cxx_std}'")
    if patched == text:
        fail(f'{setup_py}: no -std=c++17 flag found to patch; is this mmcv {MMCV_VERSION}?')
    setup_py.write_text(patched)


def download_mmcv_sdist(dest: Path) -> Path:
    """Fetch the mmcv sdist through pip (honours the user's index and proxy settings)."""
    pip('download', '--no-deps', '--no-binary', 'mmcv', '--no-build-isolation', f'mmcv=={MMCV_VERSION}',
        '-d', str(dest))
    sdists = list(dest.glob(f'mmcv-{MMCV_VERSION}.tar.gz'))
    if not sdists:
        fail(f'pip download did not produce mmcv-{MMCV_VERSION}.tar.gz in {dest}')
    return sdists[0]


def mmcv_sources(src: Path, with_cuda: bool) -> list[Path]:
    """The C++/CUDA files mmcv's setup.py compiles (its own globs), to measure build progress."""
    ops = src / 'mmcv' / 'ops' / 'csrc' / 'pytorch'
    files = list(ops.glob('*.cpp')) + list(ops.glob('cpu/*.cpp'))
    return files + (list(ops.glob('cuda/*.cu')) + list(ops.glob('cuda/*.cpp')) if with_cuda else [])


def build_mmcv_wheel(info: dict, with_cuda: bool, out_dir: Path) -> Path:
    """Build mmcv with compiled ops from the PyPI sdist into ``out_dir``; returns the wheel."""
    jobs = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    log(f'building mmcv {MMCV_VERSION} with {"CUDA and CPU" if with_cuda else "CPU"} ops from source, '
        f'MAX_JOBS={jobs}. This takes TENS OF MINUTES on 2 cores (11-16 min measured on a 2-core '
        'x86_64 machine); the wheel is cached afterwards and never rebuilt.')
    with tempfile.TemporaryDirectory(prefix='scalenet_mm_mmcv_') as tmp:
        tmp_path = Path(tmp)
        sdist = download_mmcv_sdist(tmp_path)
        with tarfile.open(sdist) as archive:
            archive.extractall(tmp_path, filter='data')
        src = tmp_path / f'mmcv-{MMCV_VERSION}'
        cxx_std = 'c++20' if torch_needs_cxx20(info['torch_include']) else 'c++17'
        patch_mmcv_setup(src / 'setup.py', cxx_std)
        log(f'patched mmcv setup.py to -std={cxx_std}')
        env = dict(os.environ, MMCV_WITH_OPS='1', MAX_JOBS=str(jobs), FORCE_CUDA='1' if with_cuda else '0')
        if not with_cuda:
            env['CUDA_VISIBLE_DEVICES'] = ''  # torch.cuda.is_available() must be False inside setup.py
        out_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-v',
               '-w', str(tmp_path / 'dist'), str(src)]
        log('$ ' + ' '.join(cmd))
        started = time.time()
        build_log = tmp_path / 'build.log'
        total = len(mmcv_sources(src, with_cuda))
        with open(build_log, 'w') as log_file:
            # progress = object files written so far (the compiler's own output is block-buffered in pipes)
            process = subprocess.Popen(cmd, env=env, stdout=log_file, stderr=subprocess.STDOUT)
            reported = -1
            while process.poll() is None:
                time.sleep(15)
                done = len(list(src.glob('build/**/*.o')))
                if done != reported:
                    log(f'mmcv build: {done}/{total} files compiled ({(time.time() - started) / 60:.1f} min)')
                    reported = done
        tail = build_log.read_text(errors='replace').splitlines()[-60:]
        if process.returncode != 0:
            fail('mmcv build failed; last lines of the build log:\n' + '\n'.join(tail))
        wheels = list((tmp_path / 'dist').glob('mmcv-*.whl'))
        if not wheels:
            fail('mmcv build finished without a wheel; last lines:\n' + '\n'.join(tail))
        target = out_dir / wheels[0].name
        shutil.copy2(wheels[0], target)
        log(f'mmcv wheel built in {(time.time() - started) / 60:.1f} min, cached at {target}')
        return target


def ensure_mmcv(info: dict, rebuild: bool) -> dict:
    """Make sure mmcv 2.1.0 with compiled ops is installed: keep it, install the cached wheel, or build."""
    if info['mmcv'] == MMCV_VERSION and info['mmcv_ext'] and not rebuild:
        return info
    if info['mmcv'] is not None:
        log(f'mmcv {info["mmcv"]} is installed but unusable (ops compiled: {info["mmcv_ext"]}; '
            f'{info.get("mmcv_ext_error", "")}); replacing it with mmcv {MMCV_VERSION}')
    with_cuda = bool(info['cuda_available'] and info['cuda_home'])
    if info['cuda_available'] and not info['cuda_home']:
        log('torch sees a GPU but no CUDA toolkit (nvcc) was found: building the CPU ops only')
    cache = mmcv_cache_dir(info, with_cuda)
    cached = sorted(cache.glob('mmcv-*.whl'))
    if cached and not rebuild:
        log(f'installing cached mmcv wheel {cached[0]}')
        wheel = cached[0]
    else:
        wheel = build_mmcv_wheel(info, with_cuda, cache)
    pip('install', '--no-deps', '--force-reinstall', str(wheel))
    info = probe()
    if not info['mmcv_ext']:
        fail(f'mmcv installed from {wheel} but its compiled ops do not load: {info.get("mmcv_ext_error")}; '
             'rerun with --rebuild-mmcv')
    return info


def ensure_requirements(info: dict, only: tuple[str, ...] = ()) -> dict:
    """Install the pinned packages (all, or those named in ``only``) that are missing or at the wrong version."""
    missing = []
    for requirement in read_requirements('runtime') + read_requirements('tests'):
        key = PROBE_KEYS.get(requirement_name(requirement), requirement_name(requirement))
        if only and key not in only:
            continue
        if not requirement_satisfied(requirement, info.get(key)):
            missing.append(requirement)
    if missing:
        # mmcv is already in place: --no-deps for the mm packages would skip their small helpers, so
        # install with dependencies but keep the mmcv we built (a constraint file pins it).
        with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as constraints:
            constraints.write(f'torch=={info["torch"]}\n' + (f'mmcv=={MMCV_VERSION}\n' if info['mmcv'] else ''))
        pip('install', '-c', constraints.name, *missing)
        os.unlink(constraints.name)
        info = probe()
    return info


def ensure_package(info: dict) -> dict:
    """Install this repository as an editable package unless this checkout is already the one imported."""
    path = info.get('scalenet_mm_path')
    if path is None or not Path(path).resolve().is_relative_to(REPO_ROOT):
        pip('install', '--no-deps', '--no-build-isolation', '-e', str(REPO_ROOT))
        info = probe()
    return info


def verify(with_cuda: bool) -> None:
    """Run the ops-against-torchvision check and the model-package imports in a fresh interpreter."""
    result = subprocess.run([sys.executable, '-c', VERIFY.replace('{with_cuda}', str(with_cuda))],
                            cwd=tempfile.gettempdir(), capture_output=True, text=True)
    for line in result.stdout.splitlines():
        log(line)
    if result.returncode != 0:
        fail('the installed stack does not work:\n' + result.stderr[-4000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check-only', action='store_true', help='verify, install nothing')
    parser.add_argument('--rebuild-mmcv', action='store_true', help='build mmcv again, ignoring the cache')
    args = parser.parse_args()
    if sys.version_info < (3, 10):
        fail(f'Python {sys.version.split()[0]} is too old: scalenet_mm needs Python 3.10-3.12')
    started = time.time()
    info = probe()
    if not args.check_only:
        info = ensure_torch(info)
        ensure_build_tools(info)
        # mmcv imports mmengine: without it an intact mmcv would look broken and be rebuilt for nothing
        info = ensure_requirements(probe(), only=('mmengine',))
        info = ensure_mmcv(info, args.rebuild_mmcv)
        info = ensure_requirements(info)
        info = ensure_package(info)
    elif not info['mmcv_ext']:
        fail('mmcv with compiled ops is not installed; run python tools/setup_env.py')
    verify(with_cuda=bool(info['cuda_available'] and info['cuda_home']))
    log(f'environment ready ({time.time() - started:.0f} s)')


if __name__ == '__main__':
    main()
