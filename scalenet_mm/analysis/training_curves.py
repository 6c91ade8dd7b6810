"""Training curves from mmengine's JSON scalar logs (``vis_data/scalars.json``): reading, series, and a PNG
with one panel per scalar and one line per log."""
import json
import statistics

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


def summary_line(name: str, key: str, values: list[float]) -> str:
    """``name key: n points, mean M, sd S, min A, max B, last L`` (sample sd; 0 for one point)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return (f'{name} {key}: {len(values)} points, mean {statistics.mean(values):.4g}, sd {sd:.4g}, '
            f'min {min(values):.4g}, max {max(values):.4g}, last {values[-1]:.4g}')


def default_keys(rows: list[dict]) -> list[str]:
    """Losses first, then lr, then every other (metric) key, in first-seen order."""
    keys = list(dict.fromkeys(k for row in rows for k in row if k not in BOOKKEEPING))
    return ([k for k in keys if 'loss' in k] + [k for k in keys if k == 'lr']
            + [k for k in keys if 'loss' not in k and k != 'lr'])


def plot_curves(logs: list[list[dict]], keys: list[str], names: list[str], out: str) -> None:
    """One panel per key (iterations on x), one line per log, saved to the PNG ``out``."""
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
    fig.savefig(out, dpi=110)
