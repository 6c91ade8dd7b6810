#!/usr/bin/env python
"""Grow a trained detector, segmentor or classifier: deepen its Swin/ViT backbone as a ScaleNet config says
and keep its neck and heads, for ``load_from``.

    python tools/grow_checkpoint.py SOURCE_CKPT CONFIG OUT.pth [--cfg-options ...]

SOURCE_CKPT is a full mmdet/mmseg/classifier checkpoint whose backbone is a plain Swin or ViT (mmdet, mmseg,
timm, official or mmpretrain keys); CONFIG is the ScaleNet config of the same task (same neck and heads, the
backbone's source arch matching the checkpoint). Shared positions run the trained blocks and adapters start at
zero; with ``gate_inserted=True`` in the backbone the grown model predicts exactly as the source. Every key is
checked before anything is written. Then train with
``tools/train.py CONFIG --cfg-options load_from=OUT.pth model.backbone.init_cfg=None``.
"""
import argparse
import shlex

import torch
from mmengine.config import DictAction

import scalenet_mm
from scalenet_mm.checkpoint.grow import grow_model
from scalenet_mm.config_tools.backbone_config import build_model, load_config
from scalenet_mm.config_tools.tool_config import add_trust_argument, apply_trust_argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('source', help='trained full-model checkpoint (backbone.*, neck.*, heads)')
    parser.add_argument('config', help='ScaleNet config of the same task: the grown model')
    parser.add_argument('out', help='output .pth (state_dict and meta), for load_from')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    add_trust_argument(parser)
    args = parser.parse_args()
    apply_trust_argument(args)
    options = dict(args.cfg_options or {})
    model = build_model(load_config(args.config, options))
    grown = grow_model(model, args.source)
    print(grown.summary())
    backbone = model.backbone
    meta = {'grown_from': args.source, 'config': args.config, 'cfg_options': options,
            'backbone': backbone.extra_repr(), 'scalenet_mm_version': scalenet_mm.__version__}
    if grown.dataset_meta is not None:  # class names and palette, for the inferencers and visualizers
        meta['dataset_meta'] = grown.dataset_meta
    torch.save({'state_dict': grown.state_dict, 'meta': meta}, args.out)
    # the same options again: the grown file's keys (gates, adapters) must meet the same model
    again = ' '.join(shlex.quote(f'{key}={value}') for key, value in options.items())
    print(f'wrote {args.out}: {type(model).__name__} with {type(backbone).__name__}({backbone.extra_repr()})\n'
          f'train from it: python tools/train.py {args.config} --cfg-options load_from={args.out} '
          f'model.backbone.init_cfg=None {again}'.rstrip())


if __name__ == '__main__':
    main()
