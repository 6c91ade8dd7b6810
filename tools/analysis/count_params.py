#!/usr/bin/env python
"""Total (with multiplicity), unique and trainable parameters of a config's backbone, per stage.

    python tools/analysis/count_params.py CONFIG [--cfg-options ...]
"""
import argparse

from mmengine.config import DictAction

import scalenet_mm  # noqa: F401
from scalenet_mm.analysis.param_count import count_parameters, format_parameter_table
from scalenet_mm.config_tools.backbone_config import build_backbone, load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()
    backbone = build_backbone(load_config(args.config, args.cfg_options))
    print(f'{args.config}: source depths {backbone.source_depths} -> scaled depths {backbone.scaled_depths}')
    print(format_parameter_table(count_parameters(backbone)))


if __name__ == '__main__':
    main()
