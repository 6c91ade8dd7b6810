#!/usr/bin/env python
"""When to grow, at equal training compute (fidelity round 3): given a trained source and a budget of further
training compute, is it better to train the source on, to grow it at once, or to grow it part-way through one
run (``GrowthScheduleHook``)? And how does a 2x model trained from scratch on the same total compute compare?

    python tools/analysis/when_to_grow.py configs/fidelity/swin-mini_cifar10-20k.py \
        --data ../shared/data/cifar10_20k --val-split test --work-dir work_dirs/when_to_grow

1. Trains the source of CONFIG (a plain Swin or ViT, its own epoch schedule) for E epochs, once (seed: the
   first of ``--seeds``). Its compute ``P`` is E x (training images) x F_src, F the forward FLOPs per image.
2. The budget ``C`` is ``--budget-epochs`` B epochs of the source's compute: B x images x F_src. Every arm
   below spends it (to within one iteration) on iteration-based training, batch as CONFIG, ``drop_last`` so
   every iteration sees a full batch, one warm-up epoch then a cosine to the end of its run:
   - ``source_on``: the source trained on;
   - ``grow_at_{p}`` for each ``--grow-at`` fraction f: the source grown to 2x (shared blocks, parallel adapters
     of ``--adapter-dim`` on fc1/fc2, inserted positions gated so it starts as the source, all weights trained),
     run at the source depth for the first f x C (growth 0, F_0 per image) and at full depth for the rest
     (F_1 per image), in one run with one lr schedule; ``grow_at_0`` is today's recipe (grow, then train);
   - ``scratch``: the 2x stack (untied) from random init, given C + P: the source's pre-training is counted.
3. Writes ``results.jsonl`` (a line per finished run; rerunning skips them, so a killed experiment continues
   where it stopped), ``results.md`` (mean, sample sd and the per-seed values of top-1 per arm, iterations at
   each depth, compute, time) and ``accuracy_vs_compute.png``. ``--plan`` prints the runs, the iteration split
   and the time estimate without training. Compute counts forward FLOPs (mmengine's analyzer, one multiply-add
   as one FLOP); training costs about 3x that in every arm alike, since all weights train.
"""
import argparse
import copy
import os.path as osp
import statistics
import time
from dataclasses import dataclass
from typing import Any, Optional

from mmengine.config import Config

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.experiment_runs import (add_run_arguments, append_result, check_same_setup,
                                                  data_folders_error, format_seconds, load_results, prepare_run,
                                                  recorded_checkpoint, train_and_measure)
from scalenet_mm.analysis.flops import count_flops
from scalenet_mm.config_tools.backbone_config import load_config
from scalenet_mm.registry import DATASETS, MODELS


@dataclass(frozen=True)
class Arm:
    """One way to spend the budget: backbone overrides, whether it starts from the source, and the share of
    the budget spent at the source depth before growing (None: it does not grow during the run)."""
    description: str
    backbone: dict[str, Any]
    from_source: bool = True
    grow_at: Optional[float] = None


def grown_backbone(adapter_dim: int) -> dict[str, Any]:
    """The 2x grown from the source: shared blocks, parallel adapters on fc1/fc2, gated inserted positions."""
    return dict(depth_scale=2, gate_inserted=True, adapter=dict(type='parallel', targets=('fc1', 'fc2'),
                                                                dim=adapter_dim))


SCRATCH_BACKBONE = dict(depth_scale=2, unshare=True)


def arms(grow_at: list[float], adapter_dim: int) -> dict[str, Arm]:
    """The arms, in table order."""
    grown = grown_backbone(adapter_dim)
    table = {'source_on': Arm('source trained on (1x)', {})}
    for fraction in grow_at:
        label = 'grown at the start (grow, then train: the two-run recipe)' if fraction == 0 else \
            f'grown in the run after {fraction:.0%} of the budget'
        table[grow_name(fraction)] = Arm(label, grown, grow_at=fraction)
    table['scratch'] = Arm('2x stack from scratch, given the source pre-training compute too', SCRATCH_BACKBONE,
                           from_source=False)
    return table


def grow_name(fraction: float) -> str:
    """``grow_at_25`` for 0.25."""
    return f'grow_at_{round(fraction * 100)}'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    add_run_arguments(parser, 'classification config of the source model (plain Swin or ViT, depth_scale=1)')
    parser.add_argument('--source-epochs', type=int, help='E: epochs of the source pre-training (default: the '
                                                          'config max_epochs)')
    parser.add_argument('--budget-epochs', type=float, help='B: the compute budget after the source, in epochs '
                                                            'of the source (default: E)')
    parser.add_argument('--grow-at', type=float, nargs='+', default=[0.0, 0.25, 0.5, 0.75],
                        help='shares of the budget trained at the source depth before growing (0: at once)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--arms', nargs='+', help='subset of the arms (default: all)')
    parser.add_argument('--adapter-dim', type=int, default=8)
    parser.add_argument('--warmup-epochs', type=float, default=1.0, help='linear warm-up of every budget run')
    parser.add_argument('--plan', action='store_true', help='print the runs and the estimated time, train nothing')
    parser.add_argument('--time-limit', type=float, help='seconds after which no further run is started')
    args = parser.parse_args()
    if any(not 0 <= f < 1 for f in args.grow_at) or len(set(args.grow_at)) != len(args.grow_at):
        parser.error(f'--grow-at {args.grow_at} must be distinct shares in [0, 1) (1 would be source_on)')
    known = arms(args.grow_at, args.adapter_dim)
    unknown = sorted(set(args.arms or ()) - set(known))
    if unknown:
        parser.error(f'unknown arm(s) {unknown}; choose among {list(known)}')
    if data_folders_error(args):
        parser.error(data_folders_error(args))
    for name in ('source_epochs', 'budget_epochs', 'adapter_dim', 'train_samples'):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f'--{name.replace("_", "-")} {value} must be positive')
    if args.warmup_epochs < 0:
        parser.error(f'--warmup-epochs {args.warmup_epochs} must be >= 0')
    return args


def forward_flops(base: Config, backbone: dict[str, Any], growth: Optional[float] = None) -> int:
    """Forward FLOPs per image of ``base``'s model with ``backbone`` overrides (at ``growth`` if given), at the
    val pipeline's input size."""
    cfg = copy.deepcopy(base.model)
    cfg.backbone.update(backbone)
    model = MODELS.build(cfg)
    if growth is not None:
        model.backbone.set_growth(growth)
    size = base.val_dataloader.dataset.pipeline[0].input_size
    return count_flops(model, (3, size, size)).total()


@dataclass(frozen=True)
class Budget:
    """What the runs spend: iterations of ``batch`` images, forward FLOPs per image."""
    images: int  # training images per epoch
    batch: int
    source_epochs: int
    budget_epochs: float
    flops: dict[str, int]  # 'source', 'grown_0', 'grown_1', 'scratch'

    @property
    def source_compute(self) -> int:
        """P: forward FLOPs of the source pre-training (E epochs, every image once per epoch)."""
        return self.source_epochs * self.images * self.flops['source']

    @property
    def budget_compute(self) -> float:
        """C: forward FLOPs of the budget after the source."""
        return self.budget_epochs * self.images * self.flops['source']

    def iterations(self, arm: Arm) -> tuple[int, int]:
        """``(at the source depth, at full depth)`` iterations of ``arm`` (the source and the stack: all at
        their one depth, first entry)."""
        per_iter = self.batch
        if arm.grow_at is None and arm.from_source:
            return round(self.budget_compute / (per_iter * self.flops['source'])), 0
        if not arm.from_source:
            return round((self.budget_compute + self.source_compute) / (per_iter * self.flops['scratch'])), 0
        before = round(arm.grow_at * self.budget_compute / (per_iter * self.flops['grown_0']))
        return before, round((1 - arm.grow_at) * self.budget_compute / (per_iter * self.flops['grown_1']))

    def compute(self, arm: Arm) -> int:
        """Forward FLOPs ``arm`` spends (from its iteration split)."""
        first, second = self.iterations(arm)
        if arm.grow_at is None:
            return first * self.batch * self.flops['source' if arm.from_source else 'scratch']
        return self.batch * (first * self.flops['grown_0'] + second * self.flops['grown_1'])


def budget_config(base: Config, args: argparse.Namespace, name: str, seed: int, arm: Arm, budget: Budget,
                  source_ckpt: Optional[str]) -> Config:
    """The iteration-based config of one arm's run: warm-up then cosine to its end, growth switch if any."""
    cfg = prepare_run(base, args, name, seed, arm.backbone, source_ckpt)
    first, second = budget.iterations(arm)
    total = first + second
    cfg.train_dataloader.update(drop_last=True, sampler=dict(type='InfiniteSampler', shuffle=True))
    cfg.train_cfg = dict(by_epoch=False, max_iters=total, val_interval=total)
    cfg.log_processor = dict(by_epoch=False)
    cfg.default_hooks.checkpoint.update(by_epoch=False, interval=total, save_best=None)
    warmup = min(round(args.warmup_epochs * budget.images / budget.batch), total // 2)
    linear, cosine = (next(s for s in base.param_scheduler if s.type == kind)
                      for kind in ('LinearLR', 'CosineAnnealingLR'))
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=linear.start_factor, by_epoch=False, begin=0, end=warmup),
        dict(type='CosineAnnealingLR', eta_min=cosine.eta_min, by_epoch=False, begin=warmup, end=total,
             T_max=total - warmup)]
    if arm.grow_at:  # train at the source depth first, then switch every inserted position on
        cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
            dict(type='scalenet_mm.GrowthScheduleHook', schedule=[(0, 0.0), (first, 1.0)], by_epoch=False)]
    return cfg


def source_config(base: Config, args: argparse.Namespace, epochs: int, seed: int) -> Config:
    """The source pre-training: CONFIG's own epoch schedule, ``epochs`` long."""
    cfg = prepare_run(base, args, 'source_pretrain', seed)
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs
    cfg.default_hooks.checkpoint.update(interval=epochs, save_best=None)
    return cfg


def estimate_seconds(pending_compute: float, finished: list[dict]) -> float:
    """Seconds for ``pending_compute`` forward FLOPs at the mean seconds per FLOP of the finished runs."""
    rates = [r['train_seconds'] / r['compute'] for r in finished]
    return pending_compute * statistics.mean(rates) if rates else 0.0


def summarise(rows: list[dict], table: dict[str, Arm]) -> tuple[str, list[dict]]:
    """Markdown table of each arm over seeds: mean, sample sd and per-seed top-1, iterations, compute, time."""
    lines = ['| arm | grows after | iterations 1x + 2x | compute, TFLOPs (with the source) | seeds | '
             'top-1 % (mean ± sd) | per seed | train time s (mean) |', '|---|---|---|---|---|---|---|---|']
    summary = []
    for name, arm in table.items():
        runs = sorted((r for r in rows if r['arm'] == name), key=lambda r: r['seed'])
        if not runs:
            continue
        accs = [r['top1'] for r in runs]
        mean, sd = statistics.mean(accs), statistics.stdev(accs) if len(accs) > 1 else 0.0
        first = runs[0]
        seconds = statistics.mean(r['train_seconds'] for r in runs)
        summary.append(dict(arm=name, mean=mean, sd=sd, total_compute=first['total_compute'], seconds=seconds))
        grows = '-' if arm.grow_at is None else f'{arm.grow_at:.0%}'
        if arm.grow_at is not None:
            at_1x, at_2x = first['iterations']
        else:  # the source trains at 1x, the stack at 2x
            at_1x, at_2x = (first['iterations'], 0) if arm.from_source else (0, first['iterations'])
        lines.append(f'| {name} | {grows} | {at_1x} + {at_2x} | {first["compute"] / 1e12:.3f} '
                     f'({first["total_compute"] / 1e12:.3f}) | {len(runs)} | {mean:.2f} ± {sd:.2f} | '
                     f'{" / ".join(f"{a:.2f}" for a in accs)} | {seconds:.0f} |')
    return '\n'.join(lines), summary


def plot(summary: list[dict], table: dict[str, Arm], source: dict, path: str) -> None:
    """Two panels: top-1 against total training compute (the source at its pre-training, each arm at the end
    of its budget), and top-1 against the share of the budget trained before growing."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (by_compute, by_share) = plt.subplots(1, 2, figsize=(11, 4.5))
    by_compute.plot([source['compute'] / 1e12], [source['top1']], 'ks', label='source (pre-training)')
    for index, row in enumerate(summary):
        by_compute.errorbar([row['total_compute'] / 1e12], [row['mean']], yerr=[row['sd']], marker='o', capsize=3,
                            label=row['arm'], color=f'C{index}')
    by_compute.set_xlabel('total training compute, forward TFLOPs (source pre-training included)')
    by_compute.set_ylabel('top-1 accuracy (%)')
    by_compute.legend(fontsize=8)
    shares = [(table[r['arm']].grow_at, r) for r in summary if table[r['arm']].grow_at is not None]
    shares += [(1.0, r) for r in summary if r['arm'] == 'source_on']
    if shares:
        shares.sort(key=lambda item: item[0])
        by_share.errorbar([s for s, _ in shares], [r['mean'] for _, r in shares], yerr=[r['sd'] for _, r in shares],
                          marker='o', capsize=3, label='grown after this share (1 = never: source trained on)')
    for row in summary:
        if row['arm'] == 'scratch':
            by_share.axhspan(row['mean'] - row['sd'], row['mean'] + row['sd'], color='grey', alpha=0.2)
            by_share.axhline(row['mean'], color='grey', linestyle='--', label='2x from scratch (same total compute)')
    by_share.set_xlabel('share of the budget trained at the source depth before growing')
    by_share.set_ylabel('top-1 accuracy (%)')
    by_share.legend(fontsize=8)
    for ax in (by_compute, by_share):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_reports(args: argparse.Namespace, budget: Budget, done: dict[str, dict], table: dict[str, Arm],
                  status: str) -> None:
    """``results.md`` and ``accuracy_vs_compute.png`` of the finished runs in the work dir; the table is printed."""
    source = done['source_pretrain']
    body, summary = summarise([r for r in done.values() if r['arm'] in table], table)
    header = (f'Source: {args.config}, {budget.source_epochs} epochs, top-1 {source["top1"]:.2f} %, '
              f'{source["train_seconds"]:.0f} s of training, {source["compute"] / 1e12:.3f} forward TFLOPs '
              f'(seed {source["seed"]}). Budget after it: {budget.budget_epochs:g} source epochs = '
              f'{budget.budget_compute / 1e12:.3f} forward TFLOPs, batch {budget.batch}. Forward MFLOPs per image: '
              + ', '.join(f'{k} {v / 1e6:.2f}' for k, v in budget.flops.items()) + f'. {status}.\n\n')
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(header + body + '\n')
    if summary:
        plot(summary, table, source, osp.join(args.work_dir, 'accuracy_vs_compute.png'))
    print(header + body)


def main() -> None:
    args = parse_args()
    base = load_config(args.config, args.cfg_options)
    source_epochs = args.source_epochs or base.train_cfg.max_epochs
    table = arms(args.grow_at, args.adapter_dim)
    if args.arms:
        table = {k: v for k, v in table.items() if k in args.arms}
    grown = grown_backbone(args.adapter_dim)
    images = len(DATASETS.build(source_config(base, args, source_epochs, 0).train_dataloader.dataset))
    budget = Budget(images=images, batch=base.train_dataloader.batch_size, source_epochs=source_epochs,
                    budget_epochs=args.budget_epochs or source_epochs,
                    flops=dict(source=forward_flops(base, {}), grown_0=forward_flops(base, grown, 0.0),
                               grown_1=forward_flops(base, grown, 1.0),
                               scratch=forward_flops(base, SCRATCH_BACKBONE)))
    if images < budget.batch:
        raise SystemExit(f'{images} training images cannot fill one batch of {budget.batch} (drop_last)')
    check_same_setup(args.work_dir, dict(config=osp.abspath(args.config), data=osp.abspath(args.data),
                                         val_split=args.val_split, source_epochs=source_epochs,
                                         budget_epochs=budget.budget_epochs, adapter_dim=args.adapter_dim,
                                         warmup_epochs=args.warmup_epochs, train_samples=args.train_samples,
                                         cfg_options=args.cfg_options))
    results_path = osp.join(args.work_dir, 'results.jsonl')
    done = load_results(results_path)
    plan = [('source_pretrain', 'source_pretrain', args.seeds[0])]
    plan += [(f'{name}_seed{seed}', name, seed) for seed in args.seeds for name in table]

    def compute_of(arm_name: str) -> float:
        return budget.source_compute if arm_name == 'source_pretrain' else budget.compute(table[arm_name])

    pending = [run for run in plan if run[0] not in done]
    print(f'{len(plan)} runs planned, {len(plan) - len(pending)} done; estimated time left '
          f'{format_seconds(estimate_seconds(sum(compute_of(a) for _, a, _ in pending), list(done.values())))}')
    for name, arm in table.items():
        first, second = budget.iterations(arm)
        print(f'  {name}: {first} + {second} iterations, {budget.compute(arm) / 1e12:.3f} forward TFLOPs '
              f'({arm.description})')
    if args.plan:
        for name, *_ in pending:
            print(f'  to run: {name}')
        if 'source_pretrain' in done:
            write_reports(args, budget, done, table, f'{len(plan) - len(pending)} of {len(plan)} runs finished')
        return
    start = time.perf_counter()
    for index, (name, arm_name, seed) in enumerate(plan):
        if name in done:
            continue
        if args.time_limit is not None and time.perf_counter() - start > args.time_limit:
            print(f'the --time-limit of {args.time_limit:.0f} s is spent: {len(plan) - index} run(s) left for a rerun')
            break
        left = estimate_seconds(sum(compute_of(a) for n, a, _ in plan[index:] if n not in done), list(done.values()))
        print(f'[{index + 1}/{len(plan)}] {name}: estimated time left {format_seconds(left)}', flush=True)
        if arm_name == 'source_pretrain':
            cfg = source_config(base, args, source_epochs, seed)
            row = dict(iterations=None, compute=budget.source_compute, total_compute=budget.source_compute)
        else:
            arm = table[arm_name]
            cfg = budget_config(base, args, name, seed, arm, budget,
                                recorded_checkpoint(done['source_pretrain']) if arm.from_source else None)
            first, second = budget.iterations(arm)
            row = dict(iterations=[first, second] if arm.grow_at is not None else first, compute=budget.compute(arm),
                       total_compute=budget.compute(arm) + (budget.source_compute if arm.from_source else 0))
        row = dict(name=name, arm=arm_name, seed=seed, **row, **train_and_measure(cfg))
        append_result(results_path, row)
        done[name] = row
    if 'source_pretrain' in done:
        finished = sum(run[0] in done for run in plan)
        write_reports(args, budget, done, table, f'{finished} of {len(plan)} runs finished')


if __name__ == '__main__':
    main()
