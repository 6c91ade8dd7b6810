"""Delta checkpoints of frozen-shared runs: only what trained plus the base file's identity; resumed, tested and
predicted from exactly as the full checkpoint; a different base refused; turned back into the full checkpoint by
tools/checkpoint_delta.py; full checkpoints stay the default; a run with nothing frozen is refused."""
import hashlib
import io
import json
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scalenet_mm.apis import ImageClassificationInferencer, strict_inferencer
from scalenet_mm.checkpoint.delta import DELTA_META, complete_delta, make_delta, plan_delta
from scalenet_mm.checkpoint.load import read_checkpoint
from scalenet_mm.config_tools.backbone_config import build_backbone, load_config
from scalenet_mm.models.backbones.scalenet_swin import ScaleNetSwinTransformer

from conftest import (CLASSIFICATION_DEMO, DETECTION_DEMO, REPO, SMALL_ARCH, assert_same, build, run_script,
                      train_with_our_tool)

CIFAR_IMAGES = [REPO / 'demo/data/cifar10_mini/val/airplane/0000.jpg',
                REPO / 'demo/data/cifar10_mini/val/ship/0001.jpg']
COCO_IMAGE = sorted((REPO / 'demo/data/coco_mini/images').glob('*.jpg'))[0]
# the classification demo cut to 64 training images (2 iterations per epoch) and 2 epochs, grown from a base file
# with the shared weights frozen (test_resume.py's run, epoch-based so resume is bit for bit)
OPTIONS = ['train_dataloader.dataset.indices=64', 'val_dataloader.dataset.indices=32', 'train_cfg.max_epochs=2',
           'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1', 'default_hooks.logger.interval=1',
           'randomness.seed=0', 'randomness.deterministic=True', 'model.backbone.trainable=adapters_norms']
CLS_BACKBONE = dict(arch=dict(embed_dims=48, depths=(2, 2, 2, 2), num_heads=(2, 4, 8, 16)), patch_size=2,
                    window_size=4, pad_small_map=False, out_indices=(3, ))
DET_BACKBONE = dict(arch=dict(embed_dims=32, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8)), window_size=4)


def write_base(path: Path, seed: int = 1, **backbone) -> Path:
    """A plain Swin (the source of a 2x ScaleNet) with random weights, saved as a trained model's backbone."""
    torch.manual_seed(seed)
    source = ScaleNetSwinTransformer(adapter=None, **backbone)
    source.init_weights()
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}}, path)
    return path


def grown_from(base: Path) -> list[str]:
    return ['model.backbone.init_cfg.type=Pretrained', f'model.backbone.init_cfg.checkpoint={base}']


def train(work_dir: Path, base: Path, *extra: str) -> Path:
    train_with_our_tool(CLASSIFICATION_DEMO, work_dir, '--cfg-options', *OPTIONS, *grown_from(base), *extra)
    return work_dir


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Four runs from one base: full checkpoints, delta checkpoints, and each resumed from its epoch 1."""
    root = tmp_path_factory.mktemp('delta')
    (root / 'base').mkdir()
    base = write_base(root / 'base' / 'swin-mini.pth', **CLS_BACKBONE)
    full = train(root / 'full', base)
    delta = train(root / 'delta', base, 'default_hooks.checkpoint.delta=True')
    resumed_full = train(root / 'resumed_full', base, '--resume', str(full / 'epoch_1.pth'))
    resumed_delta = train(root / 'resumed_delta', base, 'default_hooks.checkpoint.delta=True', '--resume',
                          str(delta / 'epoch_1.pth'))
    return dict(base=base, full=full, delta=delta, resumed_full=resumed_full, resumed_delta=resumed_delta)


def to_full(delta: Path, out: Path, *extra: str) -> dict:
    result = run_script('tools/checkpoint_delta.py', 'full', CLASSIFICATION_DEMO, delta, out, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return read_checkpoint(str(out))


def test_full_checkpoints_stay_the_default(runs):
    checkpoint = read_checkpoint(str(runs['full'] / 'epoch_2.pth'))
    assert DELTA_META not in checkpoint['meta']
    assert any(k.startswith('backbone.stages.0.blocks.0.attn.') for k in checkpoint['state_dict'])


def test_a_delta_holds_what_trained_and_the_base_identity_and_is_much_smaller(runs):
    full = read_checkpoint(str(runs['full'] / 'epoch_2.pth'))
    delta = read_checkpoint(str(runs['delta'] / 'epoch_2.pth'))
    record = delta['meta'][DELTA_META]
    base = runs['base']
    assert record['base'] == dict(path=str(base), size=base.stat().st_size,
                                  sha256=hashlib.sha256(base.read_bytes()).hexdigest())
    assert record['module'] == 'backbone' and record['kept_frozen'] == []
    # exactly the frozen shared weights are left out: attention, MLP linears, patch embedding, downsampling
    left_out = set(full['state_dict']) - set(delta['state_dict'])
    assert left_out == set(record['keys']) and set(delta['state_dict']) < set(full['state_dict'])
    assert all('adapters' not in k and 'norm' not in k and k.startswith('backbone.') for k in left_out)
    assert {'backbone.stages.0.blocks.0.attn.w_msa.qkv.weight', 'backbone.patch_embed.projection.weight',
            'backbone.stages.0.downsample.reduction.weight'} <= left_out
    assert {'head.weight', 'backbone.stages.0.adapters.3.fc1.up.weight', 'backbone.stages.0.layer_map',
            'backbone.norm3.weight'} <= set(delta['state_dict'])
    sizes = [(runs[run] / 'epoch_2.pth').stat().st_size for run in ('full', 'delta')]
    assert sizes[1] < sizes[0] / 3, sizes
    # the base is read and hashed once per run, not per save
    (log,) = runs['delta'].glob('*/*.log')
    assert log.read_text().count('delta checkpoints: 77 frozen tensors of backbone left out') == 1


def test_the_tool_turns_a_delta_into_the_full_checkpoint_exactly(runs, tmp_path):
    full = read_checkpoint(str(runs['full'] / 'epoch_2.pth'))
    completed = to_full(runs['delta'] / 'epoch_2.pth', tmp_path / 'full.pth')
    assert list(completed['state_dict']) == list(full['state_dict'])
    for part in ('state_dict', 'optimizer', 'param_schedulers'):
        assert_same(completed[part], full[part], part)
    assert DELTA_META not in completed['meta'] and completed['meta']['iter'] == full['meta']['iter'] == 4


def test_the_tool_strips_a_full_checkpoint_to_the_same_delta(runs, tmp_path):
    result = run_script('tools/checkpoint_delta.py', 'delta', CLASSIFICATION_DEMO, runs['full'] / 'epoch_2.pth',
                        tmp_path / 'delta.pth', '--cfg-options', 'model.backbone.trainable=adapters_norms',
                        *grown_from(runs['base']))
    assert result.returncode == 0, result.stderr[-3000:]
    stripped = read_checkpoint(str(tmp_path / 'delta.pth'))
    saved = read_checkpoint(str(runs['delta'] / 'epoch_2.pth'))
    assert stripped['meta'][DELTA_META] == saved['meta'][DELTA_META]
    assert_same(stripped['state_dict'], saved['state_dict'], 'state_dict')


def test_resuming_from_a_delta_equals_resuming_from_the_full_checkpoint_bit_for_bit(runs, tmp_path):
    from_full = read_checkpoint(str(runs['resumed_full'] / 'epoch_2.pth'))
    from_delta = to_full(runs['resumed_delta'] / 'epoch_2.pth', tmp_path / 'full.pth')
    uninterrupted = read_checkpoint(str(runs['full'] / 'epoch_2.pth'))
    for part in ('state_dict', 'optimizer', 'param_schedulers'):
        assert_same(from_delta[part], from_full[part], part)
        assert_same(from_delta[part], uninterrupted[part], part)
    assert from_delta['meta']['iter'] == from_full['meta']['iter'] == 4


def run_test_tool(checkpoint: Path, work_dir: Path, *extra: str) -> dict:
    result = subprocess.run([sys.executable, 'tools/test.py', str(CLASSIFICATION_DEMO), str(checkpoint),
                             '--work-dir', str(work_dir), *extra,
                             '--cfg-options', 'test_dataloader.dataset.indices=32'],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    (metrics,) = work_dir.glob('*/*.json')
    return {k: v for k, v in json.loads(metrics.read_text()).items() if k.startswith('accuracy/')}


def test_the_test_tool_gives_the_same_metrics_from_a_delta_and_from_a_moved_base(runs, tmp_path):
    full = run_test_tool(runs['full'] / 'epoch_2.pth', tmp_path / 'full')
    assert list(full) == ['accuracy/top1']
    assert run_test_tool(runs['delta'] / 'epoch_2.pth', tmp_path / 'delta') == full
    moved = shutil.copy(runs['base'], tmp_path / 'moved.pth')
    assert run_test_tool(runs['delta'] / 'epoch_2.pth', tmp_path / 'moved', '--delta-base', str(moved)) == full


def test_the_classification_inferencer_predicts_the_same_from_a_delta(runs):
    full = ImageClassificationInferencer(str(CLASSIFICATION_DEMO), str(runs['full'] / 'epoch_2.pth'))
    delta = ImageClassificationInferencer(str(CLASSIFICATION_DEMO), str(runs['delta'] / 'epoch_2.pth'))
    assert torch.equal(delta.scores(CIFAR_IMAGES), full.scores(CIFAR_IMAGES))


def test_a_delta_as_a_backbone_pretrained_file_is_refused_with_the_way_to_a_full_one(runs, tmp_path):
    """A downstream config's ``init_cfg`` and tools/export_plain.py read backbones, not deltas: they name the
    converter instead of failing on the missing shared weights; the full checkpoint it writes loads."""
    delta = str(runs['delta'] / 'epoch_2.pth')

    def demo_backbone(checkpoint: str):
        pretrained = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
        return build_backbone(load_config(str(CLASSIFICATION_DEMO), {'model.backbone.init_cfg': pretrained}), True)

    with pytest.raises(ValueError, match=r'is a delta checkpoint.*tools/checkpoint_delta.py full CONFIG .*epoch_2'):
        demo_backbone(delta).init_weights()
    lora = "model.backbone.adapter.type='lora'"
    export = run_script('tools/export_plain.py', CLASSIFICATION_DEMO, delta, tmp_path / 'plain.pth', '--cfg-options',
                        lora)
    assert export.returncode == 1 and 'is a delta checkpoint' in export.stderr
    assert not (tmp_path / 'plain.pth').exists()
    to_full(Path(delta), tmp_path / 'full.pth')
    demo_backbone(str(tmp_path / 'full.pth')).init_weights()


def test_a_different_base_file_is_refused_with_both_hashes(runs, tmp_path):
    base, delta = runs['base'], str(runs['delta'] / 'epoch_2.pth')
    expected = hashlib.sha256(base.read_bytes()).hexdigest()
    (tmp_path / 'other').mkdir()  # torch.save writes the file's name into it: the same name, the same size
    other = write_base(tmp_path / 'other' / base.name, seed=2, **CLS_BACKBONE)  # the same layout, other weights
    assert other.stat().st_size == base.stat().st_size
    found = hashlib.sha256(other.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match=f'different base file: {other} .*has sha256 {found}.*expected sha256 '
                                         f'{expected}'):
        ImageClassificationInferencer(str(CLASSIFICATION_DEMO), delta, delta_base=str(other))
    # the recorded path with changed bytes, then missing
    original = base.read_bytes()
    try:
        base.write_bytes(other.read_bytes())
        with pytest.raises(ValueError, match=f'{base} has sha256 {found}.*expected sha256 {expected}'):
            ImageClassificationInferencer(str(CLASSIFICATION_DEMO), delta)
        base.unlink()
        with pytest.raises(FileNotFoundError, match=f'needs its base file .*{base}.*--delta-base PATH'):
            ImageClassificationInferencer(str(CLASSIFICATION_DEMO), delta)
    finally:
        base.write_bytes(original)


def test_a_delta_run_with_nothing_frozen_or_no_base_is_refused_before_training(runs, tmp_path):
    for name, options, message in [
            ('all', ['model.backbone.trainable=all', *grown_from(runs['base'])], "every parameter of this model "
                                                                                 "trains \\(trainable='all'\\?\\)"),
            ('random', ['model.backbone.trainable=adapters_norms'], 'delta checkpoints need the base file')]:
        result = subprocess.run(
            [sys.executable, 'tools/train.py', str(CLASSIFICATION_DEMO), '--work-dir', str(tmp_path / name),
             '--cfg-options', *OPTIONS[:-1], *options, 'default_hooks.checkpoint.delta=True'],
            cwd=REPO, capture_output=True, text=True)
        assert result.returncode != 0
        assert re.search(message, result.stderr), result.stderr[-2000:]
        assert not list((tmp_path / name).glob('*.pth')) and 'Epoch(train)' not in result.stdout + result.stderr


def test_frozen_weights_loaded_from_elsewhere_are_refused(tmp_path):
    base = write_base(tmp_path / 'base.pth', arch=SMALL_ARCH, window_size=4)
    model = build(depth_scale=2, trainable='adapters_norms',
                  init_cfg=dict(type='Pretrained', checkpoint=str(base)))
    plan = plan_delta(model)
    assert len(plan.keys) == sum(not p.requires_grad for p in model.parameters()) and not plan.kept_frozen
    with torch.no_grad():
        model.stages[1].blocks[0].attn.w_msa.proj.weight.add_(1.0)
    with pytest.raises(ValueError, match=r'1 frozen weight\(s\) differ from the base file .*stages.1.blocks.0.attn'
                                         r'.w_msa.proj.weight.*load_from\?'):
        plan_delta(model)


def test_a_delta_completes_a_model_exactly_and_refuses_another_one(tmp_path):
    base = write_base(tmp_path / 'base.pth', arch=SMALL_ARCH, window_size=4)
    model = train_(build(depth_scale=2, trainable='adapters_norms',
                         init_cfg=dict(type='Pretrained', checkpoint=str(base))))
    checkpoint = {'meta': {}, 'state_dict': model.state_dict()}
    make_delta(checkpoint, plan_delta(model))
    fresh = build(depth_scale=2)
    complete_delta(fresh, checkpoint, 'delta.pth')
    assert_same(dict(checkpoint['state_dict']), dict(model.state_dict()))
    deeper = build(depth_scale=3)
    make_delta(checkpoint, plan_delta(model))
    with pytest.raises(ValueError, match='does not complete this model'):
        complete_delta(deeper, checkpoint, 'delta.pth')


def train_(model: torch.nn.Module) -> torch.nn.Module:
    """Give the trainable tensors (zero adapter ``up`` after growth) other values, as training would; the frozen
    ones stay the base's."""
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.normal_(0, 0.05)
    return model


def test_the_strict_detection_inferencer_and_image_demo_predict_the_same_from_a_delta(tmp_path):
    from mmdet.apis import DetInferencer
    from mmdet.datasets import CocoDataset

    from scalenet_mm.config_tools.backbone_config import build_model, load_config
    base = write_base(tmp_path / 'base.pth', **DET_BACKBONE)
    options = {'model.backbone.trainable': 'adapters_norms', 'model.test_cfg.rcnn.score_thr': 0.0,
               'model.backbone.init_cfg': dict(type='Pretrained', checkpoint=str(base))}
    config = load_config(str(DETECTION_DEMO), options)  # every box kept: random heads score below 0.05
    model = build_model(config, with_init_cfg=True)
    model.init_weights()
    train_(model)
    full = tmp_path / 'full.pth'
    torch.save({'meta': {'dataset_meta': dict(CocoDataset.METAINFO)}, 'state_dict': model.state_dict()}, full)
    result = run_script('tools/checkpoint_delta.py', 'delta', DETECTION_DEMO, full, tmp_path / 'delta.pth',
                        '--cfg-options', 'model.backbone.trainable=adapters_norms', *grown_from(base))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'delta.pth').stat().st_size < full.stat().st_size
    predictions = []
    for weights in (full, tmp_path / 'delta.pth'):
        inferencer = strict_inferencer(DetInferencer)(model=config, weights=str(weights), device='cpu')
        predictions.append(inferencer(str(COCO_IMAGE), return_datasamples=True)['predictions'][0].pred_instances)
    assert len(predictions[0]) == 20  # max_per_img
    for key in ('bboxes', 'scores', 'labels'):
        assert torch.equal(predictions[0][key], predictions[1][key]), key
    printed = []
    for weights in (full, tmp_path / 'delta.pth'):
        result = run_script('tools/image_demo.py', DETECTION_DEMO, weights, COCO_IMAGE, '--out-dir', tmp_path / 'out',
                            '--score-thr', '0.0', '--cfg-options', 'model.test_cfg.rcnn.score_thr=0.0')
        assert result.returncode == 0, result.stderr[-3000:]
        printed.append([line for line in result.stdout.splitlines() if 'instance(s)' in line])
    assert printed[0] == printed[1] and '20 instance(s) >= 0.0' in printed[1][0]


def test_checkpoint_sizes_tool_gives_the_weights_of_the_real_full_and_delta_files(runs):
    """tools/analysis/checkpoint_sizes.py (the size table of docs/checkpoints.md) sizes the files a run writes."""
    checkpoint_sizes = runpy.run_path(str(REPO / 'tools/analysis/checkpoint_sizes.py'))['checkpoint_sizes']
    sizes = checkpoint_sizes(str(CLASSIFICATION_DEMO), {'model.backbone.trainable': 'adapters_norms'})
    for run in ('full', 'delta'):
        buffer = io.BytesIO()
        torch.save(read_checkpoint(str(runs[run] / 'epoch_2.pth'))['state_dict'], buffer)
        assert abs(buffer.tell() / 1024 ** 2 - sizes[run]) < 0.01 * sizes[run], (run, buffer.tell(), sizes)
    assert sizes['delta'] < sizes['full'] / 3
