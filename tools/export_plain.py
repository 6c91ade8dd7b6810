#!/usr/bin/env python
"""Export a trained ScaleNet backbone as a plain, deeper mmdet/mmseg ``SwinTransformer`` or mmseg
``VisionTransformer`` checkpoint.

    python tools/export_plain.py CONFIG SCALENET_CKPT OUT.pth [--prefix backbone.]

The output holds ``state_dict`` with ``backbone.``-prefixed keys, so stock mmdet/mmseg configs use it as
``model.backbone.init_cfg=dict(type='Pretrained', checkpoint='OUT.pth')`` with ``depths`` (Swin) or
``num_layers`` (ViT) set to the printed scaled depths. LoRA adapters are merged; parallel adapters are refused,
and so is a checkpoint that a config's ``GrowthScheduleHook`` trained before its growth reached 1.
"""
import argparse

import torch
from mmengine.config import DictAction

import scalenet_mm  # noqa: F401
from scalenet_mm.checkpoint import check_exportable, export_plain, load_pretrained_from, read_checkpoint
from scalenet_mm.config_tools.backbone_config import build_backbone, load_config
from scalenet_mm.config_tools.tool_config import add_trust_argument, apply_trust_argument
from scalenet_mm.engine import config_growth_schedule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config', help='config whose model.backbone is the ScaleNet backbone')
    parser.add_argument('checkpoint', help='ScaleNet checkpoint (a training checkpoint or a backbone state dict)')
    parser.add_argument('out', help='output .pth')
    parser.add_argument('--prefix', default=None, help="key prefix of the backbone in CHECKPOINT (default: "
                        "'backbone.' when present)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    add_trust_argument(parser)
    args = parser.parse_args()
    apply_trust_argument(args)
    cfg = load_config(args.config, args.cfg_options)
    backbone = build_backbone(cfg)
    raw = read_checkpoint(args.checkpoint)
    schedule = config_growth_schedule(cfg)
    if schedule is not None:  # the depth the checkpoint last trained at, as tools/test.py evaluates it
        step = schedule.checkpoint_step(raw.get('meta') or {})
        if step is None:
            print(f'{args.checkpoint} has no meta {schedule.unit} count: exported at full depth (growth 1)')
        else:
            backbone.set_growth(schedule.growth_at(step))
    check_exportable(backbone)
    print(load_pretrained_from(backbone, raw, args.checkpoint, prefix=args.prefix).summary())
    state = export_plain(backbone)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()},
                'meta': {'exported_from': args.checkpoint, 'depths': list(backbone.scaled_depths),
                         'scalenet_mm_version': scalenet_mm.__version__}}, args.out)
    depths = 'depths' if backbone.architecture == 'swin' else 'num_layers'
    print(f'wrote {args.out}: plain {backbone.architecture} with {depths}={backbone.scaled_depths}, '
          f'{len(state)} tensors')


if __name__ == '__main__':
    main()
