#!/usr/bin/env python
"""The ScaleNet fidelity experiment in miniature: does a 2x model grown from a trained source by weight
sharing + adapters learn more per unit of training than the alternatives?

    python tools/analysis/fidelity_experiment.py configs/fidelity/swin-mini_cifar10-subset.py \
        --data ../shared/data/cifar10_subset --val-split test --work-dir work_dirs/fidelity

1. Trains the source model of CONFIG (a plain Swin or ViT) for E epochs (the "pretrained" model), once.
2. From it, at each fraction of E (default 1 and 1/3), for each seed: ``source`` (the source trained on),
   ``scalenet`` (2x, shared blocks frozen, adapters + norms trained, higher drop-path: the seed recipe),
   ``scalenet_gated`` (the same with a zero-initialised gate per inserted position: it starts exactly as
   the source), ``scalenet_all`` (2x shared, adapters, everything trained), ``shared_noadapter`` (2x
   shared, no adapters), ``stack`` (2x untied copies of the source blocks); ``scratch`` (2x untied, random
   init) for E epochs only; and the adapter width sweep ``scalenet_w{r}`` (the seed recipe at width r,
   ``--sweep-dims``) at the ``--sweep-fraction`` schedule only; ``--claims`` adds, at that schedule, the seed
   recipe with LoRA at the adapter's trainable parameters (``scalenet_lora``: rank 5 on all four linears
   against width 8 on fc1/fc2; ``scalenet_lora_mlp``: the adapter without its GELU) and with the interleave map
   (``scalenet_interleave``), and ``--deep-scales``/``--deep-dims`` the seed recipe at 3x, 4x, ... depth per
   adapter width (``scalenet_3x_w8``, ...). Backbones load the source strictly through ``init_cfg``, heads
   through ``head_init``.
3. Writes ``results.jsonl`` (one line per finished run, appended as it finishes; runs already there are
   skipped, so a killed experiment loses at most the run in progress and continues where it stopped),
   ``results.md`` (mean and spread over seeds of top-1, unique / trainable parameters, FLOPs, wall time),
   ``accuracy_vs_time.png`` (training time of each run) and ``accuracy_vs_total_time.png`` (the grown
   models' time plus the source's pre-training). Before each run it prints the estimated time left.
   ``--plan`` prints the runs and the estimate without training.
"""
import argparse
import os.path as osp
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from mmengine.config import Config

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.experiment_runs import (add_run_arguments, append_result, check_same_setup,
                                                  data_folders_error, format_seconds, load_results, prepare_run,
                                                  recorded_checkpoint, train_and_measure)
from scalenet_mm.config_tools.backbone_config import load_config
from scalenet_mm.models.scaling.adapters import ADAPTER_TARGETS, block_linear_shapes


@dataclass(frozen=True)
class Variant:
    """One arm of the experiment: backbone overrides of the source config and where it starts from."""
    description: str
    backbone: dict[str, Any] = field(default_factory=dict)
    from_source: bool = True
    only_fraction: Optional[float] = None  # run at this schedule only (None: at every --fractions entry)


def matched_lora_rank(adapter_dim: int) -> int:
    """The rank of a LoRA on all four linears of a block (qkv, proj, fc1, fc2) with as many parameters as a
    parallel adapter of width ``adapter_dim`` on fc1 and fc2, at MLP ratio 4 (Swin, ViT): ``10 r C`` against
    ``16 r' C`` parameters per position, so ``r' = 10 r / 16`` (exact for widths divisible by 8), at least 1."""
    shapes = block_linear_shapes(1, 4)
    parallel = adapter_dim * sum(sum(shapes[t]) for t in ('fc1', 'fc2'))
    return max(1, round(parallel / sum(sum(shape) for shape in shapes.values())))


def variants(adapter_dim: int, scalenet_drop_path: float, sweep_dims: tuple[int, ...] = (),
             sweep_fraction: float = 1 / 3, claims: bool = False, deep_scales: tuple[int, ...] = (),
             deep_dims: tuple[int, ...] = ()) -> dict[str, Variant]:
    """The arms, in table order; ``claims`` adds the paper's other comparisons (LoRA at matched parameters, the
    interleave map) and ``deep_scales`` x ``deep_dims`` the deeper seed recipes, all at ``sweep_fraction``."""
    def adapter(dim: int, kind: str = 'parallel', targets: tuple[str, ...] = ('fc1', 'fc2')) -> dict[str, Any]:
        return dict(type=kind, targets=targets, dim=dim)
    seed_recipe = dict(depth_scale=2, trainable='adapters_norms', drop_path_rate=scalenet_drop_path)
    arms = {
        'source': Variant('source model trained on (1x depth)'),
        'scalenet': Variant('ScaleNet-2x: shared + adapters, shared weights frozen (seed recipe)',
                            dict(seed_recipe, adapter=adapter(adapter_dim))),
        'scalenet_gated': Variant('ScaleNet-2x seed recipe, inserted positions gated (start as identity)',
                                  dict(seed_recipe, adapter=adapter(adapter_dim), gate_inserted=True)),
        'scalenet_all': Variant('ScaleNet-2x, all weights trained', dict(depth_scale=2, adapter=adapter(adapter_dim))),
        'shared_noadapter': Variant('2x shared, no adapters, all trained', dict(depth_scale=2)),
        'stack': Variant('2x stack: untied copies of the source blocks', dict(depth_scale=2, unshare=True)),
        'scratch': Variant('2x untied from scratch', dict(depth_scale=2, unshare=True), from_source=False,
                           only_fraction=1.0),
    }
    for dim in sweep_dims:
        arms[f'scalenet_w{dim}'] = Variant(f'ScaleNet-2x seed recipe, adapter width {dim}',
                                           dict(seed_recipe, adapter=adapter(dim)), only_fraction=sweep_fraction)
    if claims:
        rank = matched_lora_rank(adapter_dim)
        arms['scalenet_lora'] = Variant(
            f'ScaleNet-2x seed recipe, LoRA rank {rank} on qkv/proj/fc1/fc2 (parameters of the width-{adapter_dim} '
            'parallel adapter)', dict(seed_recipe, adapter=adapter(rank, 'lora', ADAPTER_TARGETS)),
            only_fraction=sweep_fraction)
        arms['scalenet_lora_mlp'] = Variant(
            f'ScaleNet-2x seed recipe, LoRA rank {adapter_dim} on fc1/fc2 (the parallel adapter without its GELU)',
            dict(seed_recipe, adapter=adapter(adapter_dim, 'lora')), only_fraction=sweep_fraction)
        arms['scalenet_interleave'] = Variant(  # Swin: W- and SW-MSA alternate by position, as a deeper Swin
            'ScaleNet-2x seed recipe, interleave map (0, 0, 1, 1, ...)',
            dict(seed_recipe, adapter=adapter(adapter_dim), layer_map='interleave', shift_policy='by_position'),
            only_fraction=sweep_fraction)
    for scale in deep_scales:
        for dim in deep_dims:
            arms[f'scalenet_{scale}x_w{dim}'] = Variant(
                f'ScaleNet-{scale}x seed recipe, adapter width {dim}',
                dict(seed_recipe, depth_scale=scale, adapter=adapter(dim)), only_fraction=sweep_fraction)
    return arms


def arm_table(args: argparse.Namespace) -> dict[str, Variant]:
    """Every arm the command line can ask for."""
    return variants(args.adapter_dim, args.scalenet_drop_path, tuple(args.sweep_dims), args.sweep_fraction,
                    args.claims, tuple(args.deep_scales), tuple(args.deep_dims))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_run_arguments(parser, 'classification config of the source model (plain Swin, depth_scale=1)')
    parser.add_argument('--epochs', type=int, help='E: epochs of the source and of the full schedule '
                                                   '(default: the config max_epochs)')
    parser.add_argument('--fractions', type=float, nargs='+', default=[1.0, 1 / 3],
                        help='schedules of the grown models as fractions of E')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--variants', nargs='+', help='subset of the arms (default: all)')
    parser.add_argument('--adapter-dim', type=int, default=8)
    parser.add_argument('--sweep-dims', type=int, nargs='*', default=[],
                        help='adapter widths of the width sweep (e.g. 4 8 16 32; default: no sweep)')
    parser.add_argument('--sweep-fraction', type=float, default=1 / 3,
                        help='the one schedule (fraction of E) of the width sweep')
    parser.add_argument('--claims', action='store_true',
                        help="add the paper's other comparisons at --sweep-fraction: LoRA at matched parameters "
                             '(scalenet_lora, scalenet_lora_mlp) and the interleave map (scalenet_interleave)')
    parser.add_argument('--deep-scales', type=int, nargs='*', default=[],
                        help='depth scales beyond 2 of the seed recipe at --sweep-fraction (e.g. 3 4)')
    parser.add_argument('--deep-dims', type=int, nargs='*', default=[8],
                        help='adapter widths of the --deep-scales arms (e.g. 8 32)')
    parser.add_argument('--plan', action='store_true', help='print the runs and the estimated time, train nothing')
    parser.add_argument('--budget', type=float, help='seconds after which no further run is started (a leased GPU)')
    parser.add_argument('--scalenet-drop-path', type=float, default=0.2,
                        help='drop-path of the frozen ScaleNet arm (the seed recipe uses a high one)')
    args = parser.parse_args()
    if any(scale < 2 for scale in args.deep_scales) or any(d <= 0 for d in args.deep_dims):
        parser.error(f'--deep-scales {args.deep_scales} must be integers >= 2 and --deep-dims {args.deep_dims} '
                     'positive widths')
    known = arm_table(args)
    unknown = sorted(set(args.variants or ()) - set(known))
    if unknown:
        parser.error(f'unknown variant(s) {unknown}; choose among {list(known)}')
    if data_folders_error(args):
        parser.error(data_folders_error(args))
    if any(not 0 < f <= 1 for f in args.fractions + [args.sweep_fraction]):
        parser.error(f'--fractions {args.fractions} and --sweep-fraction {args.sweep_fraction} must lie in (0, 1]')
    if any(d <= 0 for d in args.sweep_dims):
        parser.error(f'--sweep-dims {args.sweep_dims} must be positive widths')
    return args


def epochs_of(total: int, fraction: float) -> int:
    """Epochs of a schedule: at least 2 (warm-up, then cosine)."""
    return max(2, round(total * fraction))


def run_config(base: Config, args: argparse.Namespace, name: str, epochs: int, seed: int,
               backbone: dict[str, Any], source_ckpt: Optional[str]) -> Config:
    """The config of one run: data paths, schedule length, seed, backbone overrides, initialisation."""
    if 'Swin' not in base.model.backbone.type:  # a ViT has no windows to shift
        backbone = {key: value for key, value in backbone.items() if key != 'shift_policy'}
    cfg = prepare_run(base, args, name, seed, backbone, source_ckpt)
    cfg.train_cfg.max_epochs = epochs
    for scheduler in cfg.param_scheduler:  # warm-up (LinearLR) then cosine: keep one cosine epoch at least
        if scheduler.type == 'LinearLR':
            scheduler.end = min(scheduler.end, epochs - 1)
        elif scheduler.type == 'CosineAnnealingLR':
            scheduler.begin = min(scheduler.begin, epochs - 1)
    cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.checkpoint.interval = epochs
    cfg.default_hooks.checkpoint.save_best = None
    return cfg


def estimate_seconds(pending: list[tuple[str, str, int, int]], finished: list[dict],
                     arms: dict[str, Variant]) -> float:
    """Seconds the ``pending`` runs ``(name, variant, epochs, seed)`` should take: epochs times the seconds per
    epoch of finished runs of the same variant, else the mean seconds per epoch and unit of depth scale of the
    finished runs times the variant's depth scale; 0 when nothing finished yet to estimate from."""
    def scale_of(variant: str) -> Optional[int]:
        if variant in ('source', 'source_pretrain'):
            return 1
        return arms[variant].backbone.get('depth_scale', 1) if variant in arms else None

    def per_epoch(rows: list[dict]) -> Optional[float]:
        return statistics.mean(r['train_seconds'] / r['epochs'] for r in rows) if rows else None
    known = [r for r in finished if scale_of(r['variant'])]
    per_scale = statistics.mean(r['train_seconds'] / r['epochs'] / scale_of(r['variant']) for r in known) \
        if known else 0.0
    total = 0.0
    for _, variant, epochs, _ in pending:
        rate = per_epoch([r for r in finished if r['variant'] == variant]) or per_scale * scale_of(variant)
        total += rate * epochs
    return total


def summarise(rows: list[dict], arms: dict[str, Variant]) -> tuple[str, list[dict]]:
    """Markdown table of mean +- standard deviation over seeds, one line per (variant, epochs)."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        if row['variant'] in arms:
            groups.setdefault((row['variant'], row['epochs']), []).append(row)
    order = list(arms)
    lines = ['| variant | epochs | seeds | top-1 % (mean ± sd) | unique params (M) | trainable (M) | '
             'GFLOPs/img | train time s (mean) |', '|---|---|---|---|---|---|---|---|']
    summary = []
    for (variant, epochs), runs in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]), -kv[0][1])):
        accs = [r['top1'] for r in runs]
        mean, sd = statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0
        secs = statistics.mean(r['train_seconds'] for r in runs)
        first = runs[0]
        summary.append(dict(variant=variant, epochs=epochs, mean=mean, sd=sd, seconds=secs))
        lines.append(f'| {variant} | {epochs} | {len(runs)} | {mean:.2f} ± {sd:.2f} | '
                     f'{first["unique_params"] / 1e6:.3f} | {first["trainable_params"] / 1e6:.3f} | '
                     f'{first["flops"] / 1e9:.4f} | {secs:.0f} |')
    return '\n'.join(lines), summary


def plot(summary: list[dict], source_seconds: float, path: str, arms: dict[str, Variant],
         with_source_time: bool = False) -> None:
    """Top-1 against training wall time, one line per variant through its schedules; ``with_source_time``
    adds the source's pre-training to every arm that starts from it."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for variant in dict.fromkeys(s['variant'] for s in summary):
        extra = source_seconds if with_source_time and arms[variant].from_source else 0.0
        points = sorted((s['seconds'] + extra, s['mean'], s['sd']) for s in summary if s['variant'] == variant)
        xs, ys, sds = zip(*points)
        ax.errorbar(xs, ys, yerr=sds, marker='o', capsize=3, label=variant)
    ax.set_xlabel(f'training wall time (s), including the source pre-training ({source_seconds:.0f} s)'
                  if with_source_time else
                  f'training wall time (s), excluding the source pre-training ({source_seconds:.0f} s)')
    ax.set_ylabel('top-1 accuracy (%)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    args = parse_args()
    base = load_config(args.config, args.cfg_options)
    total_epochs = args.epochs or base.train_cfg.max_epochs
    arms = arm_table(args)
    if args.variants:
        arms = {k: v for k, v in arms.items() if k in args.variants}
    check_same_setup(args.work_dir, dict(config=osp.abspath(args.config), data=osp.abspath(args.data),
                                         val_split=args.val_split, epochs=total_epochs,
                                         adapter_dim=args.adapter_dim, scalenet_drop_path=args.scalenet_drop_path,
                                         train_samples=args.train_samples, cfg_options=args.cfg_options))
    results_path = osp.join(args.work_dir, 'results.jsonl')
    done = load_results(results_path)

    def record(name: str, variant: str, epochs: int, seed: int, cfg: Config) -> dict:
        if name not in done:
            row = dict(name=name, variant=variant, epochs=epochs, seed=seed, **train_and_measure(cfg))
            append_result(results_path, row)
            done[name] = row
        return done[name]

    source_seed = args.seeds[0]
    plan = [('source_pretrain', 'source_pretrain', total_epochs, source_seed)]
    for seed in args.seeds:
        for fraction in sorted(set(args.fractions) | {arm.only_fraction for arm in arms.values()} - {None},
                               reverse=True):
            epochs = epochs_of(total_epochs, fraction)
            for variant, arm in arms.items():
                wanted = fraction in args.fractions if arm.only_fraction is None else fraction == arm.only_fraction
                if wanted:
                    plan.append((f'{variant}_e{epochs}_seed{seed}', variant, epochs, seed))
    pending = [run for run in plan if run[0] not in done]
    print(f'{len(plan)} runs planned, {len(plan) - len(pending)} done; estimated time left '
          f'{format_seconds(estimate_seconds(pending, list(done.values()), arms))}')
    if args.plan:
        for name, *_ in pending:
            print(f'  to run: {name}')
        if 'source_pretrain' in done:  # the tables and plots of the runs finished so far
            write_reports(args, total_epochs, done, arms, f'{len(plan) - len(pending)} of {len(plan)} runs finished')
        return
    source = None
    start = time.perf_counter()
    for index, (name, variant, epochs, seed) in enumerate(plan):
        if name not in done and args.budget is not None and time.perf_counter() - start > args.budget:
            print(f'the --budget of {args.budget:.0f} s is spent: {len(plan) - index} run(s) left for a rerun')
            break
        if name not in done:
            left = estimate_seconds([run for run in plan[index:] if run[0] not in done], list(done.values()), arms)
            print(f'[{index + 1}/{len(plan)}] {name}: estimated time left {format_seconds(left)}', flush=True)
        if variant == 'source_pretrain':
            source = record(name, variant, epochs, seed, run_config(base, args, name, epochs, seed, {}, None))
            continue
        arm = arms[variant]
        cfg = run_config(base, args, name, epochs, seed, arm.backbone,
                         recorded_checkpoint(source) if arm.from_source else None)
        record(name, variant, epochs, seed, cfg)
    if source is None:
        return  # the budget ended before the source was trained
    finished = sum(run[0] in done for run in plan)
    write_reports(args, total_epochs, done, arms, f'{finished} of {len(plan)} runs finished')


def write_reports(args: argparse.Namespace, total_epochs: int, done: dict[str, dict], arms: dict[str, Variant],
                  status: str) -> None:
    """``results.md`` and the two plots of the finished runs in the work dir; the table is printed too."""
    source = done['source_pretrain']
    table, summary = summarise(list(done.values()), arms)
    header = (f'Source: {args.config}, {total_epochs} epochs, top-1 {source["top1"]:.2f} %, '
              f'{source["train_seconds"]:.0f} s of training (seed {source["seed"]}). {status}.\n\n')
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(header + table + '\n')
    if summary:
        plot(summary, source['train_seconds'], osp.join(args.work_dir, 'accuracy_vs_time.png'), arms)
        plot(summary, source['train_seconds'], osp.join(args.work_dir, 'accuracy_vs_total_time.png'), arms,
             with_source_time=True)
    print(header + table)


if __name__ == '__main__':
    main()
