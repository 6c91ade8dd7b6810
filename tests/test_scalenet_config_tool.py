"""``tools/scalenet_config.py`` on the Swin configs mmdet and mmseg ship: every written config reads, and
the ones we build train-ready models with our backbone, the original's settings and explicit adapter keys."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

from scalenet_mm.config_tools.backbone_config import build_model
from scalenet_mm.config_tools.scalenet_config import scalenet_config_name, scalenet_config_text
from scalenet_mm.models.backbones.scalenet_swin import ScaleNetSwinTransformer

from shipped_configs import shipped_swin_configs

ROOT = Path(__file__).resolve().parents[1]
READABLE = [path for _, path, cfg in shipped_swin_configs() if not isinstance(cfg, str)]


PARALLEL_16 = dict(type='parallel', targets=('fc1', 'fc2'), dim=16)


def convert(out_dir: Path, *args: str, configs=READABLE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'tools/scalenet_config.py', *map(str, configs), '--out-dir', str(out_dir),
                           *args], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope='module')
def written(tmp_path_factory) -> dict[Path, Path]:
    """Every shipped Swin config converted (a folder each: names repeat across the packages' folders)."""
    out_root = tmp_path_factory.mktemp('scalenet_configs')
    pairs = {}
    for index, source in enumerate(READABLE):
        dest = out_root / f'{index:03d}' / scalenet_config_name(str(source), 2)
        dest.parent.mkdir(exist_ok=True)
        dest.write_text(scalenet_config_text(str(source), str(dest), 2, PARALLEL_16, 'all', 1.0))
        pairs[source] = dest
    return pairs


def test_every_written_config_reads_with_our_backbone_and_the_originals_settings(written):
    for source, dest in written.items():
        cfg, original = Config.fromfile(str(dest)), Config.fromfile(str(source))
        backbone = cfg.model.backbone
        assert backbone.type == 'scalenet_mm.ScaleNetSwinTransformer' and backbone.depth_scale == 2, dest
        assert {k: v for k, v in backbone.items() if k in original.model.backbone and k != 'type'} == \
            {k: v for k, v in original.model.backbone.items() if k != 'type'}
        imports = original.get('custom_imports', {}).get('imports', [])
        assert cfg.custom_imports.imports == ([imports] if isinstance(imports, str) else imports) + ['scalenet_mm']
        assert 'scalenet-swin' in dest.name and dest.suffix == '.py'


def test_the_command_line_writes_the_same_configs(tmp_path, written):
    sources = [s for s in READABLE if s.name in ('mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 'upernet_swin.py')]
    result = convert(tmp_path, configs=sources)
    assert result.returncode == 0, result.stderr
    for source in sources:
        dest = tmp_path / written[source].name
        assert f'{source} -> {dest}' in result.stdout
        assert Config.fromfile(str(dest)).to_dict() == Config.fromfile(str(written[source])).to_dict()
    clash = [s for s in READABLE if s.name == 'grounding_dino_swin-t_pretrain_zeroshot_lvis.py']
    result = convert(tmp_path / 'clash', configs=clash)
    assert len(clash) == 2 and result.returncode == 1 and 'would overwrite' in result.stderr


@pytest.mark.parametrize('source, adapter_lr_mult', [
    ('mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', 1.0),
    ('swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', 1.0),
    ('mask2former_swin-s-p4-w7-224_8xb2-lsj-50e_coco.py', 0.1),  # the original's backbone lr_mult carries over
    ('rtmdet_l_swin_b_p6_4xb16-100e_coco.py', 1.0),  # an odd-depth stage: written with a shift_policy
])
def test_written_config_builds_and_groups_the_adapters(written, source, adapter_lr_mult):
    source_path = next(path for path in READABLE if path.name == source)
    cfg, original = Config.fromfile(str(written[source_path])), Config.fromfile(str(source_path))
    assert cfg.model.backbone.depths == original.model.backbone.depths  # every original setting kept
    assert cfg.optim_wrapper.optimizer == original.optim_wrapper.optimizer
    model = build_model(cfg)
    assert isinstance(model.backbone, ScaleNetSwinTransformer)
    assert model.backbone.scaled_depths == tuple(2 * d for d in original.model.backbone.depths)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base_lr = cfg.optim_wrapper.optimizer.lr
    adapter_params = {id(p) for n, p in model.named_parameters() if '.adapters.' in n}
    groups = [g for g in wrapper.optimizer.param_groups if any(id(p) in adapter_params for p in g['params'])]
    assert groups and all(len(g['params']) == 1 for g in groups)
    assert all(g['lr'] == pytest.approx(base_lr * adapter_lr_mult) for g in groups)
    assert all(g['weight_decay'] == cfg.optim_wrapper.optimizer.get('weight_decay', 0) for g in groups)
    seen = [id(p) for g in wrapper.optimizer.param_groups for p in g['params']]
    assert len(seen) == len(set(seen))  # no shared parameter twice


def test_options_frozen_policy_and_no_adapters(tmp_path):
    source = next(path for path in READABLE if path.name == 'mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py')
    result = convert(tmp_path, '--trainable', 'adapters_norms', '--adapter-dim', '8', '--adapter-type', 'lora',
                     '--depth-scale', '1.5', '--adapter-decay-mult', '0', configs=[source])
    assert result.returncode == 0, result.stderr
    cfg = Config.fromfile(str(tmp_path / 'mask-rcnn_scalenet-swin-t-p4-w7-d1p5x_fpn_1x_coco.py'))
    backbone = cfg.model.backbone
    assert (backbone.trainable, backbone.depth_scale, backbone.adapter['dim'], backbone.adapter['type']) == \
        ('adapters_norms', 1.5, 8, 'lora')
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['.adapters.'] == dict(decay_mult=0.0)
    result = convert(tmp_path / 'adapters-only', '--trainable', 'adapters', configs=[source])
    cfg = Config.fromfile(str(tmp_path / 'adapters-only' / 'mask-rcnn_scalenet-swin-t-p4-w7-d2x_fpn_1x_coco.py'))
    assert result.returncode == 0 and build_model(cfg).backbone.trainable == 'adapters'
    result = convert(tmp_path, '--no-adapter', configs=[source])
    cfg = Config.fromfile(str(tmp_path / 'mask-rcnn_scalenet-swin-t-p4-w7-d2x_fpn_1x_coco.py'))
    assert cfg.model.backbone.adapter is None
    assert '.adapters.' not in cfg.optim_wrapper.paramwise_cfg.custom_keys
    with torch.no_grad():
        assert build_model(cfg).backbone.adapter_cfg is None


def test_a_config_without_swin_is_refused_with_the_reason(tmp_path):
    result = convert(tmp_path, configs=[ROOT / 'configs' / 'scalenet' / 'swin-t_8xb128-300e_in1k.py'])
    assert result.returncode == 1
    assert "model.backbone of type 'scalenet_mm.ScaleNetSwinTransformer'" in result.stderr
    assert 'nothing to convert' in result.stderr and not list(tmp_path.glob('*.py'))
