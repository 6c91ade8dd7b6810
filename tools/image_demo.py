#!/usr/bin/env python
"""Predict on your own images with a trained config and checkpoint, and write the overlays.

    python tools/image_demo.py CONFIG CHECKPOINT IMAGE [IMAGE ...] --out-dir DIR [--device cpu]
        [--score-thr 0.3] [--topk 5] [--delta-base PATH]

The task comes from the config: a detector runs through mmdet's ``DetInferencer`` (boxes and masks above
``--score-thr`` drawn), a segmentor through mmseg's ``MMSegInferencer`` (the label map blended over the
image), our classifier through ``scalenet_mm.apis.ImageClassificationInferencer`` (the ``--topk`` classes
printed and written on the image). Each loads the checkpoint strictly: a file of another model is refused
(mmdet's and mmseg's inferencers alone would warn and predict with random weights); a delta checkpoint is
completed from its base file (``--delta-base`` when the base moved). Overlays go to ``DIR/vis/``; one line per
image is printed.
"""
import argparse
import os
import os.path as osp

import numpy as np
from mmengine.config import DictAction
from PIL import Image, ImageDraw

import scalenet_mm  # noqa: F401  (registers our modules; safe loading of mmengine checkpoints)
from scalenet_mm.apis import Classification, ImageClassificationInferencer, strict_inferencer
from scalenet_mm.config_tools.backbone_config import load_config
from scalenet_mm.config_tools.config_task import task_of
from scalenet_mm.config_tools.tool_config import add_delta_base_argument, add_trust_argument, apply_trust_argument


def vis_path(out_dir: str, image: str, suffix: str) -> str:
    """Where the overlay of ``image`` is written (``out_dir/vis/<name><suffix>``)."""
    return osp.join(out_dir, 'vis', osp.splitext(osp.basename(image))[0] + suffix)


def detect(args: argparse.Namespace) -> None:
    """mmdet's ``DetInferencer`` (loading strictly): instances above the score threshold, overlays with boxes
    and masks."""
    from mmdet.apis import DetInferencer
    inferencer = strict_inferencer(DetInferencer)(model=args.config, weights=args.checkpoint, device=args.device,
                                                  delta_base=args.delta_base)
    classes = inferencer.model.dataset_meta['classes']
    samples = inferencer(args.images, out_dir=args.out_dir, pred_score_thr=args.score_thr,
                         return_datasamples=True)['predictions']
    for image, sample in zip(args.images, samples):
        kept = sample.pred_instances[sample.pred_instances.scores >= args.score_thr]
        found = ', '.join(f'{classes[label]} {score:.2f}' for label, score in
                          zip(kept.labels.tolist(), kept.scores.tolist())) or 'nothing'
        print(f'{image}: {len(kept)} instance(s) >= {args.score_thr}: {found} -> '
              f'{osp.join(args.out_dir, "vis", osp.basename(image))}')


def segment(args: argparse.Namespace) -> None:
    """mmseg's ``MMSegInferencer`` (loading strictly): the label map blended over each image."""
    from mmseg.apis import MMSegInferencer
    inferencer = strict_inferencer(MMSegInferencer)(model=args.config, weights=args.checkpoint, device=args.device,
                                                    delta_base=args.delta_base)
    classes = inferencer.model.dataset_meta['classes']
    samples = inferencer(args.images, out_dir=args.out_dir, return_datasamples=True)  # the samples themselves:
    for image, sample in zip(args.images, samples if isinstance(samples, list) else [samples]):  # one or a list
        labels, counts = np.unique(sample.pred_sem_seg.data.cpu().numpy(), return_counts=True)
        order = np.argsort(-counts)[:5]
        share = ', '.join(f'{classes[labels[i]]} {counts[i] / counts.sum():.0%}' for i in order)
        print(f'{image}: {share} -> {osp.join(args.out_dir, "vis", osp.basename(image))}')


def draw_classification(result: Classification, path: str) -> None:
    """The image with its top-k classes and scores written in its top-left corner, saved as PNG."""
    with Image.open(result.image) as opened:
        image = opened.convert('RGB')
    scale = max(1, 256 // max(image.size))
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    draw = ImageDraw.Draw(image)
    lines = [f'{name} {score:.2f}' for name, score in result.topk]
    draw.rectangle((0, 0, 8 + 7 * max(map(len, lines)), 6 + 12 * len(lines)), fill=(0, 0, 0))
    for row, line in enumerate(lines):
        draw.text((4, 3 + 12 * row), line, fill=(255, 255, 255) if row else (255, 220, 0))
    image.save(path)


def classify(args: argparse.Namespace) -> None:
    """Our classifier: the top-k classes of each image, written on it."""
    inferencer = ImageClassificationInferencer(args.config, args.checkpoint, device=args.device,
                                               delta_base=args.delta_base)
    os.makedirs(osp.join(args.out_dir, 'vis'), exist_ok=True)
    for result in inferencer(args.images, topk=min(args.topk, len(inferencer.classes))):
        path = vis_path(args.out_dir, result.image, '.png')
        draw_classification(result, path)
        print(f'{result} -> {path}')


def check_request(args: argparse.Namespace) -> None:
    """Every input checked before any model is built: the image and checkpoint files, distinct image names
    (their overlays share one folder), ``--topk`` and ``--score-thr``."""
    missing = [image for image in args.images if not osp.isfile(image)]
    if missing:
        raise FileNotFoundError(f'{len(missing)} image(s) not found: {missing[:5]}')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint!r} not found')
    if args.delta_base is not None and not osp.isfile(args.delta_base):
        raise FileNotFoundError(f'--delta-base {args.delta_base!r} not found')
    names = [osp.splitext(osp.basename(image))[0] for image in args.images]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f'images with the same file name {repeated} would overwrite each other\'s overlay in '
                         f'{args.out_dir}/vis/: run them separately')
    if args.topk < 1:
        raise ValueError(f'--topk {args.topk} must be at least 1')
    if not 0.0 <= args.score_thr <= 1.0:
        raise ValueError(f'--score-thr {args.score_thr} must be between 0 and 1')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='detector, segmentor or classifier config')
    parser.add_argument('checkpoint', help='trained checkpoint of that config')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', required=True, help='overlays are written to OUT_DIR/vis/')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda:0'")
    parser.add_argument('--score-thr', type=float, default=0.3, help='detection: smallest score drawn')
    parser.add_argument('--topk', type=int, default=5, help='classification: classes reported per image')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    add_trust_argument(parser)
    add_delta_base_argument(parser)
    args = parser.parse_args()
    apply_trust_argument(args)
    check_request(args)
    cfg = load_config(args.config, args.cfg_options)
    task = task_of(cfg)
    args.config = cfg  # the inferencers take a Config as well as a path
    {'detection': detect, 'segmentation': segment, 'classification': classify}[task](args)


if __name__ == '__main__':
    main()
