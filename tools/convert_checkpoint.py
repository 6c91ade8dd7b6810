#!/usr/bin/env python
"""Convert a Swin (official / timm / mmpretrain / mmdet / mmseg) or ViT/DeiT (timm / DeiT / mmpretrain /
mmseg) checkpoint to mm backbone keys.

    python tools/convert_checkpoint.py IN.pth OUT.pth [--prefix backbone.]

The output (``state_dict`` with ``backbone.`` keys) loads into mmdet's/mmseg's ``SwinTransformer`` or mmseg's
``VisionTransformer``, and into our ScaleNet backbone of the same source arch at any ``depth_scale``. Prints
the detected architecture and layout and what was skipped or renamed.
"""
import argparse

import torch

import scalenet_mm  # noqa: F401
from scalenet_mm.checkpoint.convert import to_mm_backbone
from scalenet_mm.checkpoint.load import extract_state_dict, read_checkpoint, select_backbone
from scalenet_mm.config_tools.tool_config import add_trust_argument, apply_trust_argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('src', help='input checkpoint')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--prefix', default=None, help="key prefix of the backbone in SRC (default: 'backbone.' "
                        'when present)')
    add_trust_argument(parser)
    args = parser.parse_args()
    apply_trust_argument(args)
    source, state = select_backbone(extract_state_dict(read_checkpoint(args.src)), args.prefix)
    conversion = to_mm_backbone(state)
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in conversion.state.items()},
                'meta': {'converted_from': args.src, 'architecture': conversion.architecture,
                         'source_layout': conversion.format}}, args.dst)
    print(f'{args.src}: {source}, {conversion.architecture} in {conversion.format} layout -> {args.dst}: '
          f'{len(conversion.state)} tensors')
    for key, new_key in conversion.renamed.items():
        print(f'  renamed {key} -> {new_key}: {conversion.rename_note}')
    for key, why in conversion.skipped.items():
        print(f'  skipped {key}: {why}')


if __name__ == '__main__':
    main()
