#!/usr/bin/env python
"""Evaluate (config, checkpoint) pairs and write the model-zoo table.

    python tools/analysis/benchmark_zoo.py --models CONFIG[:CHECKPOINT] ... --out-dir DIR [--quick]
        [--device cpu] [--update-page docs/model_zoo.md]

For every config: parameters (with multiplicity, unique, trainable), FLOPs of the whole model at the task's
input size (detection: the test resize, e.g. 800x1333; segmentation: the crop; classification: the test
crop). With a checkpoint (loaded strictly) also: the test loop's metric (COCO bbox/segm AP through mmdet's
CocoMetric, mIoU through mmseg's IoUMetric, top-1) and inference throughput (images/s of the test step over
the first test batches, after one warm-up batch) on ``--device``. Every path, config and the page's markers
are checked before any work. A config without checkpoint gets a "not trained yet" row. Writes
``DIR/model_zoo.md`` and ``DIR/model_zoo.json``; ``--update-page`` also replaces the table between the lines
``<!-- zoo-table:begin -->`` and ``<!-- zoo-table:end -->`` of a Markdown page.
"""
import argparse
import itertools
import json
import numbers
import os
import os.path as osp
import platform
import time
from typing import Any, Optional

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import scalenet_mm  # noqa: F401  (registers our modules; safe loading of mmengine checkpoints)
from scalenet_mm.analysis.flops import count_flops
from scalenet_mm.analysis.marked_block import check_marked_block, replace_marked_block
from scalenet_mm.analysis.param_count import count_parameters
from scalenet_mm.checkpoint.delta import load_checkpoint_strictly
from scalenet_mm.config_tools.backbone_config import build_model, load_config
from scalenet_mm.config_tools.config_task import TASK_METRICS, task_input_hw, task_of
from scalenet_mm.config_tools.tool_config import add_trust_argument, apply_trust_argument

PAGE_BLOCK = 'zoo-table'
# model settings that do not change the inference cost: models differing only here share one FLOP count
TRAINING_ONLY_KEYS = ('init_cfg', 'trainable', 'drop_path_rate', 'train_cfg', 'head_init', 'mixup', 'pretrained')


def parse_entry(entry: str) -> tuple[str, Optional[str]]:
    """``CONFIG.py[:CHECKPOINT]`` -> ``(config, checkpoint or None)`` (split after the first ``.py:``, so a
    checkpoint path may hold colons); both must exist."""
    config, checkpoint = entry, None
    if '.py:' in entry:
        config, checkpoint = entry.split('.py:', 1)
        config += '.py'
    if not config.endswith('.py'):
        raise ValueError(f'--models entry {entry!r}: expected CONFIG.py or CONFIG.py:CHECKPOINT')
    for kind, path in (('config', config), ('checkpoint', checkpoint)):
        if path is not None and not osp.isfile(path):
            raise FileNotFoundError(f'{kind} {path!r} of --models entry {entry!r} does not exist')
    return config, checkpoint


def check_request(entries: list[tuple[str, Optional[str]]], page: Optional[str], device: str) -> list[Config]:
    """Everything that could stop the run later, checked before any work: each config's task and input
    size, the page's markers, the device. Returns the loaded configs, in the order of ``entries``."""
    configs = [load_config(config) for config, _ in entries]
    for cfg in configs:
        task_input_hw(cfg)  # also checks the task
    if page is not None:
        check_marked_block(page, PAGE_BLOCK)
    if torch.device(device).type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'--device {device}: torch sees no GPU; use --device cpu')
    return configs


def model_cost(cfg: Config, model: torch.nn.Module, flops_cache: dict[str, float]) -> dict[str, Any]:
    """Parameter counts (M) and GFLOPs at the task's input size; FLOPs are cached per model structure."""
    counts = count_parameters(model)['total']
    height, width = task_input_hw(cfg)
    structure = json.dumps(strip_training_only(cfg.model.to_dict()), sort_keys=True, default=str) + f'{height}x{width}'
    if structure not in flops_cache:
        flops_cache[structure] = count_flops(model, (3, height, width)).total() / 1e9
    return dict(params_total_m=counts.total / 1e6, params_unique_m=counts.unique / 1e6,
                params_trainable_m=counts.trainable / 1e6, gflops=flops_cache[structure], input_hw=[height, width])


def strip_training_only(node: Any) -> Any:
    """The model config without what does not change the forward's cost (init, trainable policy, drop-path)."""
    if isinstance(node, dict):
        return {k: strip_training_only(v) for k, v in node.items() if k not in TRAINING_ONLY_KEYS}
    if isinstance(node, (list, tuple)):
        return [strip_training_only(v) for v in node]
    return node


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work (no-op on CPU), so wall times measure it."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def evaluate(cfg: Config, checkpoint: str, work_dir: str, throughput_batches: int, device: str) -> dict[str, Any]:
    """The test loop's metrics with ``checkpoint`` (loaded strictly, on ``device``), and images/s of the
    model's test step over the first ``throughput_batches`` test batches after a warm-up on the first."""
    cfg.work_dir = work_dir
    cfg.experiment_name = f'zoo_{osp.basename(work_dir)}_{time.strftime("%Y%m%d_%H%M%S")}'
    runner = Runner.from_cfg(cfg)
    runner.model.to(device)  # mmengine picks the GPU whenever there is one; BaseModel.to moves the preprocessor too
    load_checkpoint_strictly(runner.model, checkpoint)  # every key, every shape; a delta checkpoint completed
    metrics = runner.test()  # no load_from: the weights are those just loaded
    model = runner.model.eval()
    batches = list(itertools.islice(runner.test_dataloader, throughput_batches))
    images, seconds, target = 0, 0.0, torch.device(device)
    with torch.no_grad():
        model.test_step(batches[0])  # warm-up
        for batch in batches:
            synchronize(target)
            start = time.perf_counter()
            model.test_step(batch)
            synchronize(target)
            seconds += time.perf_counter() - start
            images += len(batch['inputs'])
    return dict(metrics={k: float(v) for k, v in metrics.items() if isinstance(v, numbers.Real)},  # numpy too
                images_per_s=images / seconds if seconds else None, throughput_images=images)


def benchmark(config: str, cfg: Config, checkpoint: Optional[str], out_dir: str, throughput_batches: int,
              device: str, flops_cache: dict[str, float]) -> dict[str, Any]:
    """One row of the zoo: the file ``config``, loaded as ``cfg``."""
    row = dict(config=config, checkpoint=checkpoint, task=task_of(cfg),
               **model_cost(cfg, build_model(cfg), flops_cache))
    if checkpoint is None:
        return dict(row, status='not trained yet', metrics={}, images_per_s=None)
    name = osp.splitext(osp.basename(config))[0]
    return dict(row, status='evaluated', **evaluate(cfg, checkpoint, osp.join(out_dir, 'runs', name),
                                                    throughput_batches, device))


def metric_text(row: dict[str, Any]) -> str:
    """The task's metric(s) as the zoo shows them (AP and mIoU on their usual 0-100 scale)."""
    if row['status'] != 'evaluated':
        return 'not trained yet'
    parts = []
    for key in TASK_METRICS[row['task']]:
        value = row['metrics'].get(key)
        if value is not None:
            scale = 100.0 if key.startswith('coco/') else 1.0
            parts.append(f'{key.split("/")[-1].replace("_mAP", " AP")} {value * scale:.1f}')
    return ', '.join(parts) or 'no metric'


def markdown_table(rows: list[dict[str, Any]], machine: str) -> str:
    """The zoo table: one line per config."""
    lines = ['| config | task | params M (total / unique / trainable) | GFLOPs (input) | result | images/s |',
             '|---|---|---|---|---|---|']
    for row in rows:
        speed = f'{row["images_per_s"]:.2f}' if row.get('images_per_s') else '-'
        lines.append(f'| `{osp.basename(row["config"])}` | {row["task"]} | {row["params_total_m"]:.1f} / '
                     f'{row["params_unique_m"]:.1f} / {row["params_trainable_m"]:.1f} | {row["gflops"]:.1f} '
                     f'({row["input_hw"][0]}x{row["input_hw"][1]}) | {metric_text(row)} | {speed} |')
    lines.append(f'\nMeasured with `tools/analysis/benchmark_zoo.py` on {machine}; images/s is the test step alone '
                 '(batch of the test loader, no data loading), FLOPs count one multiply-add as one.')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', required=True, metavar='CONFIG[:CHECKPOINT]',
                        help='configs, each with an optional trained checkpoint after a colon')
    parser.add_argument('--out-dir', required=True, help='writes model_zoo.md, model_zoo.json and the test runs')
    parser.add_argument('--quick', action='store_true', help='throughput over 2 test batches instead of 10')
    parser.add_argument('--device', default='cpu', help="'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--update-page', help='a Markdown page whose zoo-table block is replaced')
    add_trust_argument(parser)
    args = parser.parse_args()
    apply_trust_argument(args)
    entries = [parse_entry(entry) for entry in args.models]
    configs = check_request(entries, args.update_page, args.device)
    os.makedirs(args.out_dir, exist_ok=True)
    device = torch.device(args.device)
    machine = f'{platform.machine()}, {os.cpu_count()} CPU threads' if device.type == 'cpu' else \
        torch.cuda.get_device_name(device)
    flops_cache: dict[str, float] = {}
    rows = []
    for (config, checkpoint), cfg in zip(entries, configs):
        rows.append(benchmark(config, cfg, checkpoint, args.out_dir, 2 if args.quick else 10, args.device,
                              flops_cache))
        print(f'{config}: {metric_text(rows[-1])}, {rows[-1]["gflops"]:.2f} GFLOPs, '
              f'{rows[-1]["params_unique_m"]:.2f} M unique parameters', flush=True)
    table = markdown_table(rows, machine)
    with open(osp.join(args.out_dir, 'model_zoo.json'), 'w') as handle:
        json.dump(dict(machine=machine, device=args.device, rows=rows), handle, indent=1)
    with open(osp.join(args.out_dir, 'model_zoo.md'), 'w') as handle:
        handle.write(table + '\n')
    if args.update_page is not None:
        replace_marked_block(args.update_page, PAGE_BLOCK, table)
    print(f'wrote {osp.join(args.out_dir, "model_zoo.md")} and model_zoo.json ({len(rows)} rows)')


if __name__ == '__main__':
    main()
