"""Growing a trained model with tools/grow_checkpoint.py: a Mask R-CNN trained with mmdet's own Swin grows its
last stage (predictions before training: the same with closed gates, different without), trains on from the
grown file; mmseg's shipped DeiT-S UperNet grows into ScaleNet-DeiT-S-2x; bad requests are refused whole."""
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner

import scalenet_mm  # noqa: F401
from scalenet_mm.checkpoint.grow import grow_model
from scalenet_mm.config_tools.backbone_config import build_model, load_config

from conftest import DETECTION_DEMO, REPO

pytest.importorskip('mmdet')
pytest.importorskip('mmseg')
MMSEG_CONFIGS = Path(__import__('mmseg').__file__).parent / '.mim' / 'configs'
# the demo detector with mmdet's own SwinTransformer at the source depth: the README quick start's plain source
SOURCE_DEMO = REPO / 'configs' / 'demo' / 'mask-rcnn_swin-mini_fpn_coco-mini.py'


def grow_config(tmp_path: Path, **backbone) -> Path:
    """A ScaleNet detector config: the demo's, its source arch at depth 2 per stage, the last stage doubled."""
    path = tmp_path / f'grown_{"_".join(backbone) or "default"}.py'
    backbone = dict(depth_scale=(1, 1, 1, 2), **backbone)
    path.write_text(f"_base_ = [{str(DETECTION_DEMO)!r}]\nmodel = dict(backbone={backbone!r})\n")
    return path


def predict(cfg: Config, checkpoint: Path, work_dir: Path) -> tuple[dict, list]:
    """COCO metrics and per-image (bboxes, scores) of the model of ``cfg`` with ``checkpoint`` on the bundled
    images."""
    cfg.work_dir, cfg.load_from = str(work_dir), str(checkpoint)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    runner.model.eval()
    outputs = []
    with torch.no_grad():
        for batch in runner.test_dataloader:
            for sample in runner.model.test_step(batch):
                outputs.append((sample.pred_instances.bboxes, sample.pred_instances.scores))
    return metrics, outputs


@pytest.fixture(scope='module')
def trained_swin_detector(tmp_path_factory) -> tuple[Path, dict, list]:
    """The demo Mask R-CNN with mmdet's SwinTransformer, trained 100 iterations (half the demo's schedule): its
    checkpoint, COCO metrics and per-image predictions on the bundled images."""
    iters = 100
    cfg = Config.fromfile(str(SOURCE_DEMO))
    assert cfg.model.backbone.type == 'SwinTransformer' and cfg.model.backbone.depths == (2, 2, 2, 2)
    cfg.work_dir = str(tmp_path_factory.mktemp('swin_detector'))
    cfg.train_cfg.update(max_iters=iters, val_interval=iters + 1)  # no validation: predict() evaluates below
    cfg.param_scheduler[-1].update(T_max=iters, end=iters)
    cfg.default_hooks.checkpoint.interval = iters
    Runner.from_cfg(cfg).train()
    checkpoint = Path(cfg.work_dir) / f'iter_{iters}.pth'
    return (checkpoint, *predict(Config.fromfile(str(SOURCE_DEMO)), checkpoint, Path(cfg.work_dir) / 'test'))


def test_source_detector_is_a_plain_mmdet_swin_checkpoint(trained_swin_detector):
    checkpoint, metrics, _ = trained_swin_detector
    state = torch.load(checkpoint)['state_dict']
    assert 'backbone.stages.3.blocks.1.attn.w_msa.qkv.weight' in state
    assert not any('layer_map' in k or 'adapters' in k for k in state)
    assert metrics['coco/bbox_mAP'] >= 0.2, metrics


@pytest.mark.parametrize('gated', [True, False], ids=['gate_inserted', 'shared-adapters'])
def test_grown_detector_predictions_before_training(trained_swin_detector, tmp_path, gated):
    checkpoint, source_metrics, source_outputs = trained_swin_detector
    config = grow_config(tmp_path, gate_inserted=gated)
    out = tmp_path / 'grown.pth'
    result = subprocess.run([sys.executable, 'tools/grow_checkpoint.py', str(checkpoint), str(config), str(out)],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'mm layout) strictly' in result.stdout and 'kept' in result.stdout and 'load_from=' in result.stdout
    grown_file = torch.load(out)
    assert grown_file['meta']['dataset_meta']['classes'][0] == 'person'  # the source's, for the inferencers
    state = grown_file['state_dict']
    assert state['backbone.stages.3.layer_map'].tolist() == [0, 1, 0, 1]
    assert state['backbone.stages.2.layer_map'].tolist() == [0, 1]
    source_state = torch.load(checkpoint)['state_dict']
    for key, value in source_state.items():
        if not key.startswith('backbone.'):
            assert torch.equal(state[key], value), key  # neck and heads unchanged

    metrics, outputs = predict(Config.fromfile(str(config)), out, tmp_path / 'grown')
    print(f'bbox AP before training: source {source_metrics["coco/bbox_mAP"]:.3f}, grown '
          f'({"gated" if gated else "shared + zero adapters"}) {metrics["coco/bbox_mAP"]:.3f}')
    if gated:  # closed gates: the grown detector is the source detector
        assert metrics['coco/bbox_mAP'] == pytest.approx(source_metrics['coco/bbox_mAP'], abs=1e-3)
        for (boxes, scores), (source_boxes, source_scores) in zip(outputs, source_outputs):
            torch.testing.assert_close(boxes, source_boxes, atol=1e-3, rtol=1e-4)
            torch.testing.assert_close(scores, source_scores, atol=1e-4, rtol=1e-4)
    else:  # the inserted positions run the trained blocks again: another function, still a detector
        assert 0.0 <= metrics['coco/bbox_mAP'] <= 1.0
        assert any(boxes.shape != source_boxes.shape or not torch.allclose(boxes, source_boxes, atol=1e-2)
                   for (boxes, _), (source_boxes, _) in zip(outputs, source_outputs))


def test_training_continues_from_the_grown_checkpoint_with_the_printed_command(trained_swin_detector, tmp_path):
    checkpoint, _, _ = trained_swin_detector
    config = grow_config(tmp_path)
    out = tmp_path / 'grown.pth'
    grown_output = subprocess.run(
        [sys.executable, 'tools/grow_checkpoint.py', str(checkpoint), str(config), str(out), '--cfg-options',
         'model.backbone.gate_inserted=True'], cwd=REPO, check=True, capture_output=True, text=True).stdout
    command = shlex.split(grown_output.split('train from it: ')[1].strip())
    assert command[-1] == 'model.backbone.gate_inserted=True'  # the grown file's gates need the same option
    assert torch.load(out)['meta']['cfg_options'] == {'model.backbone.gate_inserted': True}
    result = subprocess.run(
        [sys.executable, *command[1:3], '--work-dir', str(tmp_path / 'train'), *command[3:], 'train_cfg.max_iters=2',
         'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'],
        cwd=REPO, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert 'Load checkpoint from' in output and 'do not match exactly' not in output
    trained = torch.load(tmp_path / 'train' / 'iter_2.pth')['state_dict']
    grown = torch.load(out)['state_dict']
    gates = [key for key in grown if '.gates.' in key]
    assert gates and all(grown[key].abs().sum() == 0 for key in gates)
    assert any(not torch.equal(trained[key], grown[key]) for key in gates)  # the gates of inserted positions open


def test_mmseg_deit_s_upernet_grows_into_scalenet_deit_s_2x(tmp_path):
    source_cfg = Config.fromfile(str(MMSEG_CONFIGS / 'vit' / 'vit_deit-s16_upernet_8xb2-80k_ade20k-512x512.py'))
    source_cfg.model.pretrained = None
    source = revert_sync_batchnorm(build_model(source_cfg))
    source.init_weights()
    assert type(source.backbone).__name__ == 'VisionTransformer'  # mmseg's own ViT
    checkpoint = tmp_path / 'deit_s_upernet.pth'
    torch.save({'state_dict': source.state_dict()}, checkpoint)
    grown_config = REPO / 'configs' / 'deit' / 'upernet_scalenet-deit-s-d2x_in1k-pre_8xb2-80k_ade20k-512x512.py'
    options = {'model.backbone.gate_inserted': True, 'model.backbone.layer_map': 'interleave'}
    grown = revert_sync_batchnorm(build_model(load_config(str(grown_config), options)))
    with pytest.raises(ValueError, match=r'patch_embed\.projection\.bias'):  # mmseg's DeiT recipe has no patch bias
        grow_model(grown, str(checkpoint))
    grown = revert_sync_batchnorm(build_model(load_config(str(grown_config),
                                                          {**options, 'model.backbone.patch_bias': False})))
    report = grow_model(grown, str(checkpoint))
    assert report.backbone_report.format == 'mm' and 'decode_head' in report.summary()
    source.eval()
    grown.eval()
    x = torch.randn(1, 3, 512, 512)
    with torch.no_grad():
        # the source's outputs are layers 3, 6, 9, 12; the grown model's positions 6, 12, 18, 24 of which the
        # inserted ones are gated shut: interleaved, position 2k+1 is layer k's copy, so its output is layer k's
        torch.testing.assert_close(grown.encode_decode(x, [dict(img_shape=(512, 512))]),
                                   source.encode_decode(x, [dict(img_shape=(512, 512))]), atol=1e-4, rtol=1e-4)


def test_bad_requests_are_refused_before_the_model_changes(trained_swin_detector, tmp_path):
    checkpoint, _, _ = trained_swin_detector
    model = build_model(load_config(str(grow_config(tmp_path)), {'model.neck.out_channels': 32}))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r'(?s)neck/heads of .* do not fit .*shape mismatch.*neck\.'):
        grow_model(model, str(checkpoint))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    backbone_only = tmp_path / 'backbone.pth'
    torch.save({k[len('backbone.'):]: v for k, v in torch.load(checkpoint)['state_dict'].items()
                if k.startswith('backbone.')}, backbone_only)
    with pytest.raises(ValueError, match=r"has no 'backbone\.' keys.*init_cfg=dict\(type='Pretrained'"):
        grow_model(build_model(load_config(str(grow_config(tmp_path)))), str(backbone_only))
    with pytest.raises(ValueError, match='not a ScaleNet backbone'):
        grow_model(build_model(load_config(str(SOURCE_DEMO))), str(checkpoint))
    wrong_depth = build_model(load_config(str(grow_config(tmp_path)), {'model.backbone.arch.depths': (2, 2, 4, 2)}))
    before = {k: v.clone() for k, v in wrong_depth.state_dict().items()}
    with pytest.raises(ValueError, match=r'stage depths \(2, 2, 2, 2\).*\(2, 2, 4, 2\)'):
        grow_model(wrong_depth, str(checkpoint))
    assert all(torch.equal(before[k], v) for k, v in wrong_depth.state_dict().items())
