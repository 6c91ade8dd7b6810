#!/usr/bin/env python
"""Total (with multiplicity), unique and trainable parameters of a config's backbone, per stage.

    python tools/analysis/count_params.py CONFIG [--growth G] [--cfg-options ...]

``--growth G`` counts the multiplicity of a ``GrowthScheduleHook`` phase (``0``: the source depth): only the
positions that run; unique and trainable counts do not change.
"""
import argparse

from mmengine.config import DictAction

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.param_count import count_parameters, format_parameter_table
from scalenet_mm.config_tools.backbone_config import build_backbone, load_config
from scalenet_mm.models.scaling.growth import growing_backbone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--growth', type=float, default=1.0,
                        help='fraction of the inserted positions that run (GrowthScheduleHook): 0 the source depth, '
                             '1 (default) every position')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    backbone = build_backbone(load_config(args.config, args.cfg_options))
    if args.growth != 1:
        growing_backbone(backbone).set_growth(args.growth)
    active = f', growth {args.growth}: active depths {backbone.active_depths}' if args.growth != 1 else ''
    print(f'{args.config}: source depths {backbone.source_depths} -> scaled depths {backbone.scaled_depths}{active}')
    print(format_parameter_table(count_parameters(backbone)))


if __name__ == '__main__':
    main()
