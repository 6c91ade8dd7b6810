#!/usr/bin/env python
"""Plot training curves (loss, lr, accuracy / AP / mIoU) from mmengine JSON logs to a PNG.

    python tools/analysis/plot_curves.py WORK_DIR/<timestamp>/vis_data/scalars.json [more logs ...] \
        [--keys loss lr accuracy/top1] [--legend run-a run-b] --out curves.png

Each log is mmengine's ``LocalVisBackend`` output: one JSON object per line, training lines carry ``loss``,
``lr``, ``iter``/``step``, validation lines carry the metrics (``accuracy/top1``, ``coco/bbox_mAP``,
``mIoU``, ...) and ``step`` (the epoch or iteration of the evaluation). Without ``--keys``: every loss and
lr key plus every metric found. One panel per key, one line per log.
"""
import argparse
import json
import os.path as osp

BOOKKEEPING = {'epoch', 'iter', 'step', 'time', 'data_time', 'memory', 'grad_norm', 'base_lr'}


def read_scalars(path: str) -> list[dict]:
    """The JSON lines of an mmengine scalar log; ``ValueError`` naming the line that is not JSON."""
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f'{path}:{number} is not a JSON line ({exc}); pass mmengine\'s '
                                 'vis_data/scalars.json (or <timestamp>.json) logs') from exc
    if not rows:
        raise ValueError(f'{path} holds no scalars')
    return rows


def series(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """``(iterations, values)`` of one key. Validation lines (no ``iter``; their ``step`` may be an epoch) sit
    at the last training iteration logged before them, so both kinds share one axis."""
    steps, values = [], []
    last_iter = None
    for row in rows:
        if 'iter' in row:
            last_iter = row['iter']
        if key in row:
            steps.append(row['iter'] if 'iter' in row else last_iter if last_iter is not None else row['step'])
            values.append(row[key])
    return steps, values


def default_keys(rows: list[dict]) -> list[str]:
    """Losses first, then lr, then every other (metric) key, in first-seen order."""
    keys = list(dict.fromkeys(k for row in rows for k in row if k not in BOOKKEEPING))
    return ([k for k in keys if 'loss' in k] + [k for k in keys if k == 'lr']
            + [k for k in keys if 'loss' not in k and k != 'lr'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('logs', nargs='+', help="mmengine JSON scalar logs (vis_data/scalars.json)")
    parser.add_argument('--keys', nargs='+', help='scalars to plot (default: losses, lr and all metrics)')
    parser.add_argument('--legend', nargs='+', help='one name per log (default: the work dir names)')
    parser.add_argument('--out', required=True, help='output PNG')
    args = parser.parse_args()
    if args.legend and len(args.legend) != len(args.logs):
        parser.error(f'--legend has {len(args.legend)} names for {len(args.logs)} logs')
    for path in args.logs:
        if not osp.isfile(path):
            parser.error(f'log {path!r} does not exist')
    logs = [read_scalars(path) for path in args.logs]
    keys = args.keys or default_keys([row for rows in logs for row in rows])
    missing = [k for k in keys if not any(series(rows, k)[0] for rows in logs)]
    if missing:
        found = sorted({k for rows in logs for row in rows for k in row} - BOOKKEEPING)
        parser.error(f'key(s) {missing} are in none of the logs; found: {found}')
    names = args.legend or [osp.basename(osp.dirname(osp.dirname(osp.dirname(osp.abspath(p))))) for p in args.logs]

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.6 * len(keys)), squeeze=False)
    for ax, key in zip(axes[:, 0], keys):
        for name, rows in zip(names, logs):
            steps, values = series(rows, key)
            if steps:
                ax.plot(steps, values, marker='o' if len(steps) < 30 else None, label=name)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel('training iteration')
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f'wrote {args.out}: {", ".join(keys)} from {len(logs)} log(s)')


if __name__ == '__main__':
    main()
