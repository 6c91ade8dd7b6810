#!/usr/bin/env python
"""Kill real training runs on purpose, resume them, and check that nothing was lost.

    python tools/analysis/inject_faults.py CONFIG --work-dir DIR [--nproc 1|2]
        [--faults POINT:N ...] [--random-kills K --seed S] [--checkpoint-hook crash_safe|mmengine]
        [--train-tool ours|mmdet|mmseg] [--cfg-options ...] [--out results.jsonl]

First the config trains uninterrupted (the reference). Then, for each fault, a run is started with
``scalenet_mm.FaultInjectionHook`` (``POINT`` one of between_iterations, validation, checkpoint_write,
disk_full; ``N`` its occurrence, from 1), and for ``--random-kills`` a run is SIGKILLed from outside after a
random time. After each fault the work dir is inspected (every checkpoint file must be readable; the fault's
own temporary file is not a checkpoint) and the run is resumed with ``tools/train.py --resume`` (auto) until it
finishes, killed again each time for random kills until one of them lands after the end. The finished run is
compared with the reference: bit for bit (weights, optimizer, lr schedulers) where resume is exact
(epoch-based loops with a seed, docs/robustness.md), else by the largest weight difference.

One JSON line per scenario (stdout, and ``--out``), then a table. Exit status 1 if any checkpoint was lost (the
one ``last_checkpoint`` named after the fault cannot be read) or unreadable, or any run did not finish.
``--checkpoint-hook mmengine`` swaps our ``CrashSafeCheckpointHook`` for mmengine's ``CheckpointHook`` to show
what the same faults do to it.
"""
import argparse
import importlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import torch
from mmengine.config import Config, DictAction

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from scalenet_mm.checkpoint.resume_target import read_last_checkpoint, unreadable_reason  # noqa: E402
from scalenet_mm.config_tools.backbone_config import load_config  # noqa: E402
from scalenet_mm.engine.atomic_local_backend import PARTIAL_FILE  # noqa: E402
from scalenet_mm.engine.fault_injection_hook import FAULT_POINTS  # noqa: E402

CHECKPOINT_HOOKS = {'crash_safe': 'scalenet_mm.CrashSafeCheckpointHook', 'mmengine': 'CheckpointHook'}


def parse_fault(text: str) -> tuple[str, int]:
    """``'checkpoint_write:2'`` -> ``('checkpoint_write', 2)``."""
    point, _, at = text.partition(':')
    if point not in FAULT_POINTS or not at.isdigit() or int(at) < 1:
        raise argparse.ArgumentTypeError(f'{text!r}: use POINT:N with POINT one of {FAULT_POINTS} and N >= 1')
    return point, int(at)


def write_config(args: argparse.Namespace, path: Path, fault: Optional[tuple[str, int]]) -> Path:
    """The config with the chosen checkpoint hook and, for a faulty run, the fault hook; dumped to ``path``."""
    cfg = load_config(args.config, args.cfg_options)
    cfg.default_hooks.checkpoint.type = CHECKPOINT_HOOKS[args.checkpoint_hook]
    if fault is not None:
        cfg.custom_hooks = [*cfg.get('custom_hooks', []),
                            dict(type='scalenet_mm.FaultInjectionHook', point=fault[0], at=fault[1], rank=0)]
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(path))
    return path


def train_tool(name: str) -> Path:
    """Our ``tools/train.py``, or mmdet's / mmseg's own (from the installed package's ``.mim/tools``)."""
    if name == 'ours':
        return REPO / 'tools' / 'train.py'
    package = importlib.import_module(name)
    return Path(package.__file__).parent / '.mim' / 'tools' / 'train.py'


def train_command(args: argparse.Namespace, config: Path, work_dir: Path, resume: bool) -> list[str]:
    """The train tool (one process), or ``torch.distributed.run`` with ``--nproc`` processes as
    ``tools/dist_train.sh`` runs it."""
    tail = [str(config), '--work-dir', str(work_dir), *(['--resume'] if resume else [])]
    tool = str(train_tool(args.train_tool))
    if args.nproc == 1:
        return [sys.executable, tool, *tail]
    return [sys.executable, '-m', 'torch.distributed.run', '--nnodes=1', f'--nproc_per_node={args.nproc}',
            f'--master_port={args.port}', tool, *tail, '--launcher', 'pytorch']


def run(command: list[str], kill_after: Optional[float] = None) -> subprocess.CompletedProcess:
    """Run ``command`` in its own process group; SIGKILL the whole group after ``kill_after`` seconds."""
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def inspect(work_dir: Path) -> dict[str, Any]:
    """Checkpoint files in ``work_dir`` and which of them cannot be read; where ``last_checkpoint`` points."""
    files = sorted(p for p in work_dir.glob('*.pth'))
    reasons = {p.resolve(): unreadable_reason(str(p)) for p in files}  # each file read once
    named = read_last_checkpoint(str(work_dir))
    named_reason = None if named is None else (
        reasons[Path(named).resolve()] if Path(named).resolve() in reasons else unreadable_reason(named))
    return dict(checkpoints=[p.name for p in files],
                unreadable={p.name: reasons[p.resolve()] for p in files if reasons[p.resolve()] is not None},
                partial_files=sorted(p.name for p in work_dir.iterdir() if PARTIAL_FILE.match(p.name)),
                last_checkpoint=None if named is None else Path(named).name,
                last_checkpoint_readable=None if named is None else named_reason is None)


def final_checkpoint(work_dir: Path) -> dict[str, Any]:
    named = read_last_checkpoint(str(work_dir))
    if named is None:
        raise FileNotFoundError(f'{work_dir} has no last_checkpoint: the run did not save')
    return torch.load(named, map_location='cpu')


def differences(a: Any, b: Any, where: str = '') -> list[str]:
    """Where two checkpoint parts differ (tensors bit for bit, dtype included)."""
    if isinstance(a, torch.Tensor):
        same = isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
        return [] if same else [where]
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            return [where]
        return [d for key in a for d in differences(a[key], b[key], f'{where}.{key}')]
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return [where]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f'{where}[{i}]')]
    return [] if a == b else [where]


def compare(reference: Path, finished: Path) -> dict[str, Any]:
    """Bit-for-bit equality of the final weights, optimizer and lr schedulers; the largest weight difference."""
    a, b = final_checkpoint(reference), final_checkpoint(finished)
    diff = [d for part in ('state_dict', 'optimizer', 'param_schedulers')
            for d in differences(a.get(part), b.get(part), part)]
    largest = max(((a['state_dict'][k].float() - b['state_dict'][k].float()).abs().max().item()
                   for k in a['state_dict'] if a['state_dict'][k].is_floating_point()), default=0.0)
    return dict(bit_for_bit=not diff, differing=diff[:5], max_weight_difference=largest,
                same_step=a['meta'].get('iter') == b['meta'].get('iter'))


def resume_until_finished(args: argparse.Namespace, config: Path, work_dir: Path, rng: Optional[random.Random],
                          finished_log: list[dict]) -> bool:
    """``--resume`` until a run exits 0; with ``rng`` each attempt may be killed again at a random time.
    Every fault's aftermath is appended to ``finished_log``; returns whether the run finished."""
    for _ in range(args.max_resumes):
        kill_after = rng.uniform(args.kill_min, args.kill_max) if rng is not None else None
        result = run(train_command(args, config, work_dir, resume=True), kill_after)
        if result.returncode == 0:
            return True
        finished_log.append(dict(returncode=result.returncode, error=last_error(result), **inspect(work_dir)))
        if rng is None:
            return False
    return False


def last_error(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if 'Error' in line or 'error' in line]
    return lines[-1][-400:] if lines else ''


def scenario(args: argparse.Namespace, name: str, reference: Path, clean_config: Path,
             fault: Optional[tuple[str, int]], rng: Optional[random.Random]) -> dict[str, Any]:
    """One fault (or a random kill), its aftermath, the resumes and the comparison with the reference."""
    work_dir = args.work_dir / name
    config = write_config(args, work_dir.parent / f'{name}.py', fault) if fault else clean_config
    result = run(train_command(args, config, work_dir, resume=False),
                 rng.uniform(args.kill_min, args.kill_max) if rng else None)
    record: dict[str, Any] = dict(scenario=name, nproc=args.nproc, checkpoint_hook=args.checkpoint_hook,
                                  train_tool=args.train_tool,
                                  returncode=result.returncode, error=last_error(result), after_fault=inspect(work_dir))
    if result.returncode == 0:  # a random kill that came after the end: nothing was interrupted
        record.update(interrupted=False, finished=True, faults_later=[])
    else:
        later: list[dict] = []
        record.update(interrupted=True, finished=resume_until_finished(args, clean_config, work_dir, rng, later),
                      faults_later=later)
    if record['finished']:
        record.update(compare(reference, work_dir), final=inspect(work_dir))
    inspections = [record['after_fault'], *record['faults_later'], *([record['final']] if record['finished'] else [])]
    record['unreadable_checkpoints'] = sorted({name for seen in inspections for name in seen['unreadable']})
    record['resumable_after_fault'] = any(name not in record['after_fault']['unreadable']
                                          for name in record['after_fault']['checkpoints'])
    record['checkpoints_lost'] = checkpoints_lost(record)
    return record


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--work-dir', type=Path, required=True, help='a fresh folder for all the runs')
    parser.add_argument('--nproc', type=int, choices=(1, 2), default=1, help='training processes per run')
    parser.add_argument('--port', type=int, default=29511, help='master port of 2-process runs')
    parser.add_argument('--faults', nargs='*', type=parse_fault, default=[], metavar='POINT:N')
    parser.add_argument('--random-kills', type=int, default=0, help='runs SIGKILLed from outside at random times')
    parser.add_argument('--kill-min', type=float, default=8.0, help='earliest random kill, seconds after start')
    parser.add_argument('--kill-max', type=float, default=25.0, help='latest random kill, seconds after start')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random kill times')
    parser.add_argument('--max-resumes', type=int, default=10, help='resumes per scenario before giving up')
    parser.add_argument('--checkpoint-hook', choices=sorted(CHECKPOINT_HOOKS), default='crash_safe')
    parser.add_argument('--train-tool', choices=('ours', 'mmdet', 'mmseg'), default='ours',
                        help="whose tools/train.py runs the config: ours, or mmdet's / mmseg's own")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides for every run')
    parser.add_argument('--out', type=Path, help='also append the JSON lines to this file')
    args = parser.parse_args(argv)
    if args.work_dir.exists() and any(args.work_dir.iterdir()):
        parser.error(f'--work-dir {args.work_dir} is not empty: give a fresh folder')
    if not args.faults and not args.random_kills:
        parser.error('nothing to inject: give --faults POINT:N ... and/or --random-kills K')
    Config.fromfile(args.config)  # a bad config fails here, before anything trains
    return args


def main() -> int:
    args = parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    clean_config = write_config(args, args.work_dir / 'config.py', None)
    reference = args.work_dir / 'uninterrupted'
    start = time.perf_counter()
    result = run(train_command(args, clean_config, reference, resume=False))
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f'the uninterrupted reference run failed (exit status {result.returncode})')
    rng = random.Random(args.seed)
    plans = [(f'{point}-{at}', (point, at), None) for point, at in args.faults]
    plans += [(f'random-kill-{i + 1}', None, rng) for i in range(args.random_kills)]
    records = []
    for name, fault, kill_rng in plans:
        record = scenario(args, name, reference, clean_config, fault, kill_rng)
        records.append(record)
        line = json.dumps(record)
        print(line, flush=True)
        if args.out:
            with open(args.out, 'a') as f:
                f.write(line + '\n')
    print_table(records, time.perf_counter() - start)
    return 0 if all(r['finished'] and not r['unreadable_checkpoints'] and not r['checkpoints_lost']
                    for r in records) else 1


def checkpoints_lost(record: dict) -> int:
    """1 when the checkpoint that ``last_checkpoint`` named after the fault (the newest one saved whole before
    it) cannot be read: the fault cost a saved checkpoint. Goal: 0."""
    after = record['after_fault']
    return int(after['last_checkpoint'] is not None and not after['last_checkpoint_readable'])


def print_table(records: list[dict], seconds: float) -> None:
    print('\n| scenario | train tool | processes | checkpoint hook | interrupted | on disk after the fault | '
          'checkpoints lost | resumes | finished | bit for bit | unreadable checkpoint files |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for r in records:
        after = r['after_fault']
        partial = [f'(partial {name.split(".partial")[0][1:]})' for name in after['partial_files']]
        on_disk = ' '.join(after['checkpoints'] + partial) or '-'
        print(f"| {r['scenario']} | {r['train_tool']} | {r['nproc']} | {r['checkpoint_hook']} | {r['interrupted']} | "
              f"{on_disk} | {checkpoints_lost(r)} | {len(r['faults_later']) + int(r['interrupted'])} | "
              f"{r['finished']} | {r.get('bit_for_bit', '-')} | {len(r['unreadable_checkpoints'])} |")
    print(f'\n{len(records)} faults ({sum(r["interrupted"] for r in records)} interrupted a run), '
          f'{sum(r["finished"] for r in records)} runs finished, {sum(map(checkpoints_lost, records))} checkpoints '
          f'lost, {sum(len(r["unreadable_checkpoints"]) for r in records)} unreadable checkpoint files; '
          f'{seconds:.0f} s')


if __name__ == '__main__':
    sys.exit(main())
