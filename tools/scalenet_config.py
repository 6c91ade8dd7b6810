#!/usr/bin/env python
"""Write the ScaleNet version of mmdet/mmseg configs whose backbone is ``SwinTransformer``.

    python tools/scalenet_config.py CONFIG [CONFIG ...] --out-dir DIR [--depth-scale 2] [--adapter-dim 16]
        [--adapter-type parallel] [--no-adapter] [--trainable all] [--adapter-decay-mult 1.0] [--drop-path RATE]

Each written config (``DIR/<name with scalenet-swin...-d2x>``) inherits its original and changes only the
backbone type, ``depth_scale``, adapters, trainable policy, ``custom_imports`` and the adapters' optimizer
key (and the drop-path rate with ``--drop-path``; without it the tool prints the rate each config keeps);
train it with mmdet's/mmseg's ``tools/train.py`` or ours. The pretrained Swin the original names is
grown at load (shared weights, zero adapters). Configs without a Swin backbone are refused with the reason.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config
from mmengine.utils import mkdir_or_exist

from scalenet_mm.config_tools.scalenet_config import TRAINABLE_NOTES, scalenet_config_name, scalenet_config_text
from scalenet_mm.models.scaling.adapters import ADAPTER_TYPES

RECIPE_DROP_PATH = 0.3  # configs/scalenet/mask-rcnn_scalenet-swin-t-d2x-*: 24 positions is Swin-S's depth
SWIN_DEFAULT_DROP_PATH = 0.1  # mmdet's/mmseg's SwinTransformer (and ours) when a config sets none


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+', help='mmdet/mmseg config files with a SwinTransformer backbone')
    parser.add_argument('--out-dir', required=True, help='folder for the written configs')
    parser.add_argument('--depth-scale', type=float, default=2.0, help='depth multiplier per stage (default 2)')
    parser.add_argument('--adapter-type', choices=ADAPTER_TYPES, default='parallel')
    parser.add_argument('--adapter-dim', type=int, default=16, help='adapter width r (default 16)')
    parser.add_argument('--no-adapter', action='store_true', help='share weights without adapters')
    parser.add_argument('--trainable', choices=tuple(TRAINABLE_NOTES), default='all',
                        help="'all' (full fine-tuning, default) or 'adapters_norms' (shared weights frozen)")
    parser.add_argument('--adapter-decay-mult', type=float, default=1.0,
                        help='weight-decay multiplier of the adapters (default 1.0: the optimizer\'s decay)')
    parser.add_argument('--drop-path', type=float, metavar='RATE',
                        help="the backbone's drop_path_rate, 0 <= RATE < 1 (default: the original's; our 2x "
                             f'recipes use {RECIPE_DROP_PATH})')
    args = parser.parse_args()
    if args.drop_path is not None and not 0 <= args.drop_path < 1:
        parser.error(f'--drop-path {args.drop_path} must be in [0, 1), e.g. --drop-path {RECIPE_DROP_PATH}')
    if args.depth_scale < 1:
        parser.error(f'--depth-scale {args.depth_scale} must be >= 1: ScaleNet only deepens')
    if args.adapter_dim <= 0:
        parser.error(f'--adapter-dim {args.adapter_dim} must be positive')
    adapter = None if args.no_adapter else dict(type=args.adapter_type, targets=('fc1', 'fc2'), dim=args.adapter_dim)
    depth_scale = int(args.depth_scale) if args.depth_scale.is_integer() else args.depth_scale
    mkdir_or_exist(args.out_dir)
    failures = 0
    written: dict[str, str] = {}
    for source in args.configs:
        dest = osp.join(args.out_dir, scalenet_config_name(source, depth_scale))
        if dest in written:
            print(f'skipped {source}: its ScaleNet config would overwrite {dest}, written from {written[dest]} '
                  '(same file name); convert it into another --out-dir', file=sys.stderr)
            failures += 1
            continue
        try:
            text = scalenet_config_text(source, dest, depth_scale, adapter, args.trainable, args.adapter_decay_mult,
                                        drop_path_rate=args.drop_path)
        except ValueError as exc:
            print(f'skipped {source}: {exc}', file=sys.stderr)
            failures += 1
            continue
        with open(dest, 'w') as handle:
            handle.write(text)
        written[dest] = source
        print(f'{source} -> {dest}')
        if args.drop_path is None:
            kept = Config.fromfile(dest).model.backbone.get('drop_path_rate', SWIN_DEFAULT_DROP_PATH)
            advice = ('as our 2x recipes' if kept == RECIPE_DROP_PATH else
                      f'our 2x recipes use {RECIPE_DROP_PATH} (--drop-path {RECIPE_DROP_PATH})')
            print(f'  kept drop_path_rate={kept:g} from {source}; {advice}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
