#!/usr/bin/env python
"""Estimate what training each config costs: GPU memory and time per iteration, GPU-hours of the schedule.

    python tools/analysis/estimate_resources.py CONFIG [CONFIG ...] [--gpus 8] [--sustained-tflops 20]
        [--out-json FILE] [--update-page docs/model_zoo.md]

Computed on any machine (no GPU), so every figure is an *estimate*:

- **memory per GPU** = weights + gradients of the trainable weights + optimizer state (AdamW: 2 tensors per
  trainable weight, SGD with momentum: 1) + the activations one training forward keeps for backward. The
  activations are measured here: every tensor autograd saves during a real ``mode='loss'`` forward at the
  task's training input size (detection 800x1344 padded, segmentation the 512 crop, classification 224)
  is counted once per storage, weights excluded, then scaled to the per-GPU batch. This misses the
  allocator's slack and backward's temporaries, so each task's figures are multiplied by one calibration
  factor: the published training memory of the task's Swin-T reference config divided by this tool's raw
  figure for it (mmdet's Mask R-CNN Swin-T 1x: 7.6 GB; mmseg's UperNet Swin-T 160k: 5.02 GB; both measured on
  V100s, from their packages' metafiles). Classification has no published reference here: raw figure.
- **time per iteration** = 3 x forward FLOPs (forward + backward) of the per-GPU batch at the training input
  size, at ``--sustained-tflops`` (an assumption; times scale inversely with it);
- **GPU-hours** = iterations of the schedule x GPUs x time per iteration (epochs use COCO train2017's 117,266
  annotated images and ImageNet-1k's 1,281,167).
"""
import argparse
import concurrent.futures
import json
import math
import multiprocessing
import os.path as osp
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.structures import BaseDataElement, PixelData

import scalenet_mm  # noqa: F401  (registers our modules)
from scalenet_mm.analysis.activation_memory import saved_activation_bytes
from scalenet_mm.analysis.flops import count_flops
from scalenet_mm.analysis.marked_block import check_marked_block, replace_marked_block
from scalenet_mm.analysis.optimizer_state import optimizer_states
from scalenet_mm.config_tools.backbone_config import build_model, load_config
from scalenet_mm.config_tools.config_task import task_input_hw, task_of

PAGE_BLOCK = 'resources-table'
# images per epoch of the full datasets (COCO: mmdet's filter_empty_gt keeps the annotated train2017 images)
EPOCH_IMAGES = {'detection': 117_266, 'classification': 1_281_167}
# published training memory (GB per GPU) of the Swin-T reference of each task, from the metafiles inside the
# installed packages: mmdet/.mim/configs/swin/metafile.yml, mmseg/.mim/configs/swin/metafile.yaml
REFERENCES = {'detection': ('mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 7.6, "mmdet's Mask R-CNN Swin-T 1x"),
              'segmentation': ('upernet_swin-t_8xb2-160k_ade20k-512x512.py', 5.02, "mmseg's UperNet Swin-T 160k")}
# images in the measured forward: detection and classification are scaled up to the per-GPU batch; the
# segmentor needs 2 (its pyramid pooling's 1x1 BatchNorm needs more than one value)
MEASURED_IMAGES = {'detection': 1, 'segmentation': 2, 'classification': 8}
GB = 1024 ** 3
REPO = Path(__file__).resolve().parents[2]


def loss_batch(task: str, model: nn.Module, images: int, input_hw: tuple[int, int]) -> dict[str, Any]:
    """A preprocessed training batch of ``images`` random images with labels, at ``input_hw``."""
    height, width = input_hw
    if task == 'detection':
        from mmdet.testing import demo_mm_inputs
        raw = demo_mm_inputs(batch_size=images, image_shapes=[(3, height, width)] * images, num_items=[7] * images,
                             num_classes=80, with_mask=True)  # 7 objects: about COCO's mean per image
    elif task == 'segmentation':
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(images):
            samples.append(SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 150, (1, height, width)))))
            samples[-1].set_metainfo(dict(img_shape=input_hw, ori_shape=input_hw, pad_shape=input_hw))
        raw = dict(inputs=[torch.randint(0, 255, (3, height, width), dtype=torch.uint8) for _ in range(images)],
                   data_samples=samples)
    else:
        raw = dict(inputs=torch.randn(images, 3, height, width),
                   data_samples=[BaseDataElement(gt_label=torch.tensor([k % model.num_classes]))
                                 for k in range(images)])
    return model.data_preprocessor(raw, training=True)


def schedule_iterations(cfg: Config, task: str, gpus: int, epoch_images: Optional[int] = None) -> int:
    """Iterations of the whole schedule at ``gpus`` x the config's per-GPU batch; an epoch is
    ``epoch_images`` images, by default the task's full dataset (COCO train2017, ImageNet-1k train)."""
    train_cfg = cfg.train_cfg
    if 'max_iters' in train_cfg:
        return int(train_cfg.max_iters)
    if epoch_images is None:
        if task not in EPOCH_IMAGES:
            raise ValueError(f'an epoch-based {task} config: pass --epoch-images, the images of one epoch')
        epoch_images = EPOCH_IMAGES[task]
    return int(train_cfg.max_epochs) * math.ceil(epoch_images / (gpus * cfg.train_dataloader.batch_size))


def raw_estimate(cfg: Config) -> dict[str, Any]:
    """Uncalibrated memory (GB) and forward GFLOPs per image of one config, measured on this machine."""
    task = task_of(cfg)
    input_hw = task_input_hw(cfg)
    if task == 'detection':  # the batch is padded to a multiple of 32: 800x1333 -> 800x1344
        input_hw = tuple(32 * math.ceil(side / 32) for side in input_hw)
    model = build_model(cfg)
    gflops = count_flops(model, (3, *input_hw)).total() / 1e9
    model.train()
    images = MEASURED_IMAGES[task]
    batch = loss_batch(task, model, images, input_hw)
    activations = saved_activation_bytes(lambda: model(**batch, mode='loss'), model)
    unique = {id(p): p for p in model.parameters()}.values()
    weight_bytes = sum(p.numel() * p.element_size() for p in unique) + sum(
        b.numel() * b.element_size() for b in model.buffers())
    trainable_bytes = sum(p.numel() * p.element_size() for p in unique if p.requires_grad)
    batch_size = cfg.train_dataloader.batch_size
    memory = (weight_bytes + trainable_bytes * (1 + optimizer_states(cfg))
              + activations * batch_size / images) / GB
    return dict(task=task, input_hw=list(input_hw), batch_size=batch_size, gflops_per_image=gflops,
                raw_memory_gb=memory, activation_gb_per_image=activations / images / GB)


def measure_in_child(config: str) -> dict[str, Any]:
    """:func:`raw_estimate` of ``config`` in a fresh process, which gives all its memory back when it ends: the
    largest models need over 12 GB here, and one process measuring several in turn runs out of memory."""
    context = multiprocessing.get_context('spawn')
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(raw_estimate_of_file, config).result()


def raw_estimate_of_file(config: str) -> dict[str, Any]:
    """:func:`raw_estimate` of the config file ``config`` (what :func:`measure_in_child` runs; the spawned
    process imports this script again, which registers our modules)."""
    return raw_estimate(load_config(config))


def cached_raw_estimate(config: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """:func:`raw_estimate`, measured once per model, optimizer and batch (configs that differ only in
    where their weights come from, or in the schedule, cost the same per iteration)."""
    cfg = load_config(config)
    model = {k: v for k, v in cfg.model.to_dict().items() if k != 'init_cfg'}
    model['backbone'] = {k: v for k, v in model.get('backbone', {}).items() if k not in ('init_cfg', 'pretrained')}
    key = json.dumps([model, cfg.optim_wrapper.optimizer.type, cfg.train_dataloader.batch_size], sort_keys=True,
                     default=str)
    if key not in cache:
        cache[key] = measure_in_child(config)
        print(f'{osp.basename(config)}: {cache[key]["raw_memory_gb"]:.2f} GB raw, '
              f'{cache[key]["gflops_per_image"]:.1f} GFLOPs per image', flush=True)
    return cache[key]


def estimate(configs: list[str], gpus: int, sustained_tflops: float,
             epoch_images: Optional[int] = None) -> dict[str, Any]:
    """Rows for ``configs`` plus the calibration factors (the task references are measured too when absent)."""
    cache: dict[str, dict[str, Any]] = {}
    raw = {config: cached_raw_estimate(config, cache) for config in configs}
    factors = {}
    for task, (name, published, source) in REFERENCES.items():
        if not any(row['task'] == task for row in raw.values()):
            continue
        reference = next((c for c in raw if osp.basename(c) == name), None)
        if reference is None:
            reference = str(REPO / 'configs' / 'scalenet' / name)
            raw[reference] = cached_raw_estimate(reference, cache)
        factors[task] = dict(factor=published / raw[reference]['raw_memory_gb'], published_gb=published,
                             source=source, raw_gb=raw[reference]['raw_memory_gb'])
    rows = []
    for config in configs:
        row, cfg = raw[config], load_config(config)
        iterations = schedule_iterations(cfg, row['task'], gpus, epoch_images)
        # forward + backward = 3 forward passes; a FLOP count of one multiply-add as one -> x2 for TFLOP/s
        seconds = 3 * 2 * row['gflops_per_image'] * 1e9 * row['batch_size'] / (sustained_tflops * 1e12)
        factor = factors.get(row['task'], {}).get('factor', 1.0)
        rows.append(dict(row, config=config, memory_gb=row['raw_memory_gb'] * factor,
                         calibrated=row['task'] in factors, seconds_per_iter=seconds, iterations=iterations,
                         gpu_hours=iterations * gpus * seconds / 3600))
    return dict(gpus=gpus, sustained_tflops=sustained_tflops, calibration=factors, rows=rows)


def markdown_table(result: dict[str, Any]) -> str:
    """The resources table: one line per config."""
    lines = ['| config | batch per GPU (input) | memory per GPU, GB (est.) | s / iter (est.) | iterations | '
             'GPU-hours (est.) |', '|---|---|---|---|---|---|']
    for row in result['rows']:
        memory = f'{row["memory_gb"]:.1f}' + ('' if row['calibrated'] else ' (raw)')
        lines.append(f'| `{osp.basename(row["config"])}` | {row["batch_size"]} ({row["input_hw"][0]}x'
                     f'{row["input_hw"][1]}) | {memory} | {row["seconds_per_iter"]:.2f} | {row["iterations"]:,} | '
                     f'{row["gpu_hours"]:,.0f} |')
    notes = '; '.join(f'{task} x{c["factor"]:.2f} ({c["source"]}: {c["published_gb"]} GB published, '
                      f'{c["raw_gb"]:.2f} GB raw here)' for task, c in result['calibration'].items())
    lines.append(f'\nEstimates from `tools/analysis/estimate_resources.py` (no GPU run): {result["gpus"]} GPUs, '
                 f'{result["sustained_tflops"]:g} TFLOP/s sustained per GPU assumed; memory calibration: '
                 f'{notes or "none (raw figures)"}.')
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', help='mmdet, mmseg or scalenet_mm classification configs')
    parser.add_argument('--gpus', type=int, default=8, help='GPUs of the run (default 8, as the config names)')
    parser.add_argument('--sustained-tflops', type=float, default=20.0,
                        help='assumed sustained TFLOP/s per GPU for the time figures (default 20)')
    parser.add_argument('--epoch-images', type=int,
                        help='images per epoch of epoch-based configs (default: COCO train2017 / ImageNet-1k train)')
    parser.add_argument('--out-json', help='also write the rows and the calibration as JSON')
    parser.add_argument('--update-page', help='a Markdown page whose resources-table block is replaced')
    args = parser.parse_args()
    if args.gpus < 1 or args.sustained_tflops <= 0 or (args.epoch_images is not None and args.epoch_images < 1):
        parser.error(f'--gpus {args.gpus} and --epoch-images {args.epoch_images} must be >= 1, --sustained-tflops '
                     f'{args.sustained_tflops} > 0')
    for config in args.configs:
        task_input_hw(load_config(config))  # an unknown task or input size fails before any measurement
    if args.update_page:
        check_marked_block(args.update_page, PAGE_BLOCK)
    result = estimate(args.configs, args.gpus, args.sustained_tflops, args.epoch_images)
    table = markdown_table(result)
    print(table)
    if args.out_json:
        with open(args.out_json, 'w') as handle:
            json.dump(result, handle, indent=1)
    if args.update_page:
        replace_marked_block(args.update_page, PAGE_BLOCK, table)


if __name__ == '__main__':
    main()
