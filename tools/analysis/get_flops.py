#!/usr/bin/env python
"""FLOPs and parameters of a config's whole model or backbone for one input shape (no dataset needed).

    python tools/analysis/get_flops.py CONFIG [--shape H W] [--backbone-only] [--growth G] [--cfg-options ...]

FLOPs count one multiply-add as one (mmengine/fvcore and the Swin papers); attention matmuls are counted,
element-wise ops are not. Whole models run their ``mode='tensor'`` forward on a ``(1, 3, H, W)`` zero image
(mmdet detectors with dataset-free image meta); pretrained weights are not loaded. ``--growth G`` counts the
depth a ``GrowthScheduleHook`` phase runs (``0``: the source depth; parameters with multiplicity likewise).
"""
import argparse

from mmengine.config import DictAction

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.flops import count_flops, flops_by_stage
from scalenet_mm.analysis.param_count import count_parameters
from scalenet_mm.config_tools.backbone_config import build_backbone, build_model, load_config
from scalenet_mm.models.scaling.growth import growing_backbone

# ops that FLOP counts leave out by convention (element-wise, copies): not reported as missing
ELEMENTWISE = ('aten::fill_', 'aten::mul', 'aten::add', 'aten::sub', 'aten::rsub', 'aten::ne', 'aten::pad',
               'aten::im2col', 'aten::gelu', 'aten::div', 'aten::softmax', 'aten::sigmoid')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'),
                        help='input height and width (e.g. 800 1333 for COCO, 512 512 for ADE20K)')
    parser.add_argument('--backbone-only', action='store_true', help='analyse model.backbone alone')
    parser.add_argument('--growth', type=float, default=1.0,
                        help='fraction of the inserted positions that run (GrowthScheduleHook): 0 the source depth, '
                             '1 (default) every position')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    if args.backbone_only:
        model = build_backbone(cfg)
    else:
        model = build_model(cfg)
    if args.growth != 1:
        growing_backbone(model).set_growth(args.growth)
    analyzer = count_flops(model, (3, *args.shape))
    params = count_parameters(model)['total']
    growth = f', growth {args.growth}' if args.growth != 1 else ''
    print(f'{args.config}: input (1, 3, {args.shape[0]}, {args.shape[1]}), '
          f'{"backbone" if args.backbone_only else type(model).__name__}{growth}')
    print(f'{"module":<24}{"GFLOPs":>12}')
    # whole models are traced inside a wrapper: their modules are named ``model.<name>``
    root = '' if args.backbone_only else 'model.'
    backbone = '' if args.backbone_only else 'model.backbone'
    parts = {**flops_by_stage(analyzer, root.rstrip('.')), **flops_by_stage(analyzer, backbone),
             **flops_by_stage(analyzer, f'{backbone}.stages'.lstrip('.'))}
    for name, flops in sorted(parts.items()):
        if flops:
            print(f'{name[len(root):]:<24}{flops / 1e9:>12.3f}')
    print(f'{"total":<24}{analyzer.total() / 1e9:>12.3f}')
    print(f'parameters: {params.total / 1e6:.2f} M with multiplicity (untied equivalent), '
          f'{params.unique / 1e6:.2f} M unique, {params.trainable / 1e6:.2f} M trainable')
    unsupported = {op: n for op, n in analyzer.unsupported_ops().items() if op not in ELEMENTWISE}
    if unsupported:
        print(f'not counted (no FLOP handle in mmengine): {unsupported}')


if __name__ == '__main__':
    main()
