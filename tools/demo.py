#!/usr/bin/env python
"""The main job: check the environment, show the backbone, train ScaleNet Mask R-CNN and UperNet on bundled data.

    python tools/demo.py [--work-dir work_dirs/demo]

Prints the installed stack, the parameter table of ScaleNet-Swin-T-2x (shared blocks counted once per
position, once, and trainable under the seed recipe), the feature shapes for one image, and the LoRA export
round trip into mmdet's own Swin (which loads the exported weights strictly and gives the same features).
Then trains, from scratch on 2 CPU cores, a small ScaleNet-Swin-2x Mask R-CNN on the 8 bundled COCO images
(200 iterations, about 2 minutes; prints mmdet's COCO bbox and segm AP on those images) and a small
ScaleNet-Swin-2x UperNet on the 6 bundled ADE20K images (200 iterations, about a minute; prints mmseg's
mIoU on the training images before and after). Overfit sanity runs, not benchmarks. Finally it predicts on
one bundled image per task with mmdet's ``DetInferencer`` and mmseg's ``MMSegInferencer`` and writes the
overlays and the training curves as pictures (paths printed).
"""
import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import scalenet_mm
from scalenet_mm import ScaleNetSwinTransformer
from scalenet_mm.analysis.param_count import count_parameters, format_parameter_table
from scalenet_mm.analysis.training_curves import plot_curves, read_scalars
from scalenet_mm.apis import strict_inferencer
from scalenet_mm.checkpoint import export_plain

IMAGE = Path(__file__).resolve().parents[1] / 'demo' / 'data' / 'n01440764_tench.JPEG'
MEAN, STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


DEMO_CONFIGS = Path(__file__).resolve().parents[1] / 'configs' / 'demo'
DEMO_DATA = Path(__file__).resolve().parents[1] / 'demo' / 'data'
DET_IMAGE = DEMO_DATA / 'coco_mini' / 'images' / '000000000036.jpg'
SEG_IMAGE = DEMO_DATA / 'ade20k_mini' / 'ADEChallengeData2016' / 'images' / 'validation' / 'ADE_val_00000001.jpg'
DET_DEMO_CONFIG = DEMO_CONFIGS / 'mask-rcnn_scalenet-swin-mini-d2x_fpn_coco-mini.py'
SEG_DEMO_CONFIG = DEMO_CONFIGS / 'upernet_scalenet-swin-mini-d2x_ade20k-mini.py'


def backbone_demo() -> None:
    """Environment line, parameter table, features of one image, export round trip."""
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
        plain.load_state_dict(export_plain(model), strict=True)
        plain.eval()
        gap = max((a - b).abs().max().item() for a, b in zip(features, plain(x)))
    print(f'export to mmdet SwinTransformer(depths={model.scaled_depths}) loads strictly; max |difference| '
          f'of the features: {gap:.2e}')


def train(config: Path, work_dir: str):
    """Train ``config`` with mmengine's Runner in ``work_dir``; returns the runner."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(str(config))
    cfg.work_dir = work_dir
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def pictures(det_run: str, seg_run: str, out: str) -> list[str]:
    """Overlays of the trained demo models' predictions (work dirs ``det_run``, ``seg_run``) on one image each,
    and their training curves, written as PNGs under ``out``; returns the paths."""
    from mmdet.apis import DetInferencer
    from mmseg.apis import MMSegInferencer
    Path(out).mkdir(parents=True, exist_ok=True)
    detector = strict_inferencer(DetInferencer)(model=str(DET_DEMO_CONFIG), weights=f'{det_run}/iter_200.pth',
                                                device='cpu')
    segmentor = strict_inferencer(MMSegInferencer)(model=str(SEG_DEMO_CONFIG), weights=f'{seg_run}/iter_200.pth',
                                                   device='cpu')
    detection = detector(str(DET_IMAGE), pred_score_thr=0.5, return_vis=True, no_save_vis=True)['visualization'][0]
    segmentation = segmentor(str(SEG_IMAGE), return_vis=True)['visualization']
    paths = [f'{out}/detection.png', f'{out}/segmentation.png', f'{out}/curves.png']
    for overlay, path in zip((detection, segmentation), paths):
        Image.fromarray(overlay).save(path)  # RGB arrays drawn by mmdet's / mmseg's visualizers
    logs = [read_scalars(str(sorted(Path(run).glob('*/vis_data/scalars.json'))[-1])) for run in (det_run, seg_run)]
    plot_curves(logs, ['loss', 'lr'], ['Mask R-CNN (COCO images)', 'UperNet (ADE20K images)'], paths[2])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where the demo runs write logs and checkpoints')
    args = parser.parse_args()
    backbone_demo()
    print(f'\nTraining {DET_DEMO_CONFIG.name} (Mask R-CNN, ScaleNet-Swin-2x, 8 COCO images) ...', flush=True)
    det = train(DET_DEMO_CONFIG, f'{args.work_dir}/mask-rcnn').val_loop.run()
    print(f'\nTraining {SEG_DEMO_CONFIG.name} (UperNet, ScaleNet-Swin-2x, 6 ADE20K images) ...', flush=True)
    seg_runner = train(SEG_DEMO_CONFIG, f'{args.work_dir}/upernet')
    before, after = seg_runner.message_hub.get_info('before_train/mIoU'), seg_runner.val_loop.run()['mIoU']
    print(f'\nMask R-CNN on the bundled COCO images: bbox AP {100 * det["coco/bbox_mAP"]:.1f}, segm AP '
          f'{100 * det["coco/segm_mAP"]:.1f} after 200 iterations (mmdet CocoMetric, which logs them as '
          f'coco/bbox_mAP {det["coco/bbox_mAP"]:.3f}; logs in {args.work_dir}/mask-rcnn)')
    print(f'UperNet on the bundled ADE20K training images: mIoU {before:.2f} at iteration 0 -> {after:.2f} after '
          f'200 iterations (mmseg IoUMetric; logs in {args.work_dir}/upernet)')
    paths = pictures(f'{args.work_dir}/mask-rcnn', f'{args.work_dir}/upernet', f'{args.work_dir}/pictures')
    print('pictures: detection overlay (score >= 0.5), segmentation overlay, training curves:\n  ' + '\n  '.join(paths))


if __name__ == '__main__':
    main()
