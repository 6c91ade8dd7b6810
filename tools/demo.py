#!/usr/bin/env python
"""The main job, for now: check the environment and run ScaleNet-Swin-T-2x on a bundled real image.

    python tools/demo.py

Prints the installed stack, the parameter table of ScaleNet-Swin-T-2x (shared blocks counted once per
position, once, and trainable under the seed recipe), the feature shapes for one image, and the LoRA export
round trip into mmdet's own Swin (which loads the exported weights strictly and gives the same features).
"""
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import scalenet_mm
from scalenet_mm import ScaleNetSwinTransformer
from scalenet_mm.checkpoint import export_plain_swin
from scalenet_mm.utils.param_count import count_parameters, format_parameter_table

IMAGE = Path(__file__).resolve().parents[1] / 'demo' / 'data' / 'n01440764_tench.JPEG'
MEAN, STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


def main() -> None:
    import mmcv
    import mmdet
    import mmengine
    import mmseg
    from mmcv.ops import nms  # noqa: F401  (compiled ops present)
    from mmdet.models.backbones import SwinTransformer
    print(f'scalenet_mm {scalenet_mm.__version__} | torch {torch.__version__} | mmengine {mmengine.__version__} | '
          f'mmcv {mmcv.__version__} (ops compiled) | mmdet {mmdet.__version__} | mmseg {mmseg.__version__}')
    torch.manual_seed(0)
    image = np.asarray(Image.open(IMAGE).convert('RGB'), dtype=np.float32)
    x = torch.from_numpy((image - MEAN) / STD).permute(2, 0, 1)[None].float()
    source = ScaleNetSwinTransformer(arch='tiny', adapter=None, drop_path_rate=0.0)
    source.init_weights()
    model = ScaleNetSwinTransformer(arch='tiny', depth_scale=2, trainable='adapters_norms', drop_path_rate=0.0,
                                    adapter=dict(type='lora', dim=16))
    model.init_weights()
    model.load_state_dict({**source.state_dict(), **{k: v for k, v in model.state_dict().items()
                                                     if 'adapters' in k or 'layer_map' in k}}, strict=True)
    print(f'\nScaleNet-Swin-T-2x: depths {model.source_depths} -> {model.scaled_depths}')
    print(format_parameter_table(count_parameters(model)))
    model.eval()
    with torch.no_grad():
        features = model(x)
        print(f'\n{IMAGE.name} {tuple(x.shape)} -> ' + ', '.join(str(tuple(f.shape)) for f in features))
        plain = SwinTransformer(depths=model.scaled_depths, drop_path_rate=0.0)
        plain.load_state_dict(export_plain_swin(model), strict=True)
        plain.eval()
        gap = max((a - b).abs().max().item() for a, b in zip(features, plain(x)))
    print(f'export to mmdet SwinTransformer(depths={model.scaled_depths}) loads strictly; max |difference| '
          f'of the features: {gap:.2e}')


if __name__ == '__main__':
    main()
