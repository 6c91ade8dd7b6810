#!/usr/bin/env python
"""Plot training curves (loss, lr, accuracy / AP / mIoU) from mmengine JSON logs to a PNG.

    python tools/analysis/plot_curves.py WORK_DIR/<timestamp>/vis_data/scalars.json [more logs ...] \
        [--keys loss lr accuracy/top1] [--legend run-a run-b] --out curves.png

Each log is mmengine's ``LocalVisBackend`` output: one JSON object per line, training lines carry ``loss``,
``lr``, ``iter``/``step``, validation lines carry the metrics (``accuracy/top1``, ``coco/bbox_mAP``,
``mIoU``, ...) and ``step`` (the epoch or iteration of the evaluation). Without ``--keys``: every loss and
lr key plus every metric found (``grad_norm`` too when named). One panel per key, one line per log;
``--stats`` prints each series' mean, spread and range.
"""
import argparse
import os.path as osp

from scalenet_mm.analysis.training_curves import (BOOKKEEPING, default_keys, plot_curves, read_scalars, series,
                                                  summary_line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('logs', nargs='+', help="mmengine JSON scalar logs (vis_data/scalars.json)")
    parser.add_argument('--keys', nargs='+', help='scalars to plot (default: losses, lr and all metrics)')
    parser.add_argument('--legend', nargs='+', help='one name per log (default: the work dir names)')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument('--stats', action='store_true',
                        help='also print each plotted series: points, mean, sd, min, max and last value')
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
    plot_curves(logs, keys, names, args.out)
    if args.stats:
        for name, rows in zip(names, logs):
            for key in keys:
                values = series(rows, key)[1]
                if values:
                    print(summary_line(name, key, values))
    print(f'wrote {args.out}: {", ".join(keys)} from {len(logs)} log(s)')


if __name__ == '__main__':
    main()
