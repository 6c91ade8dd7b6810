"""Every Swin config that mmdet and mmseg ship works with our backbone after changing ``type``.

Walks the installed packages' ``.mim/configs`` (files whose name or text mentions Swin; leaves inheriting a
Swin config name it in ``_base_``) and keeps those whose ``model.backbone`` is ``SwinTransformer`` after
inheritance. For each: (a) the whole detector/segmentor builds with ``scalenet_mm.ScaleNetSwinTransformer``
at ``depth_scale=2``; for each distinct backbone among them: (b) at ``depth_scale=1`` ours, loaded from the
reference backbone's state dict, computes its outputs, and (c) at ``depth_scale=2`` it grows from that
state dict and runs. Configs mmengine cannot read here, or models that need what this machine cannot
fetch, are skipped with the reason.
"""
import copy
import importlib.util
import json
import re

import pytest
import torch

from scalenet_mm.checkpoint import load_pretrained
from scalenet_mm.config_tools.backbone_config import build_model
from scalenet_mm.models.backbones.scalenet_swin import ScaleNetSwinTransformer

from shipped_configs import shipped_swin_configs

SHIPPED = shipped_swin_configs()


def config_id(entry) -> str:
    package, path, _ = entry
    return f'{package}:{path.parent.name}/{path.stem}'


def scalenet_backbone(backbone: dict, **changes) -> dict:
    """The backbone dict with our type and no pretrained weights (nothing is downloaded)."""
    ours = {k: v for k, v in backbone.items() if k not in ('init_cfg', 'pretrained')}
    ours.update(type='scalenet_mm.ScaleNetSwinTransformer', **changes)
    if changes.get('depth_scale', 1) != 1 and any(d % 2 for d in backbone['depths']):
        ours['shift_policy'] = 'by_position'  # an odd-depth stage (RTMDet-P6's depth-1 stage 4) breaks parity
    return ours


def test_the_shipped_swin_configs_are_found():
    names = {path.name for _, path, _ in SHIPPED}
    assert 'mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py' in names
    assert 'swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py' in names
    assert len(SHIPPED) >= 29


@pytest.mark.parametrize('entry', SHIPPED, ids=config_id)
def test_shipped_config_builds_with_our_backbone(entry):
    package, path, cfg = entry
    if isinstance(cfg, str):
        pytest.skip(cfg)
    if 'language_model' in cfg.model and importlib.util.find_spec('transformers') is None:
        pytest.skip(f'{cfg.model.type} builds a BERT text encoder: needs `transformers` and the '
                    'bert-base-uncased weights from the Hugging Face hub, which this machine cannot reach')
    cfg = copy.deepcopy(cfg)
    cfg.setdefault('default_scope', package)  # a _base_ model fragment names no scope
    original = copy.deepcopy(cfg)
    cfg.model.backbone = scalenet_backbone(cfg.model.backbone, depth_scale=2)
    try:
        model = build_model(cfg)
    except Exception as exc:
        original.model.backbone = {k: v for k, v in original.model.backbone.items() if k != 'pretrained'}
        try:
            build_model(original)
        except Exception as original_exc:
            if type(original_exc) is type(exc) and str(original_exc) == str(exc):
                pytest.skip(f'the shipped config does not build with {package}\'s own Swin either: {exc!r}')
        raise
    backbone = model.backbone
    assert isinstance(backbone, ScaleNetSwinTransformer)
    assert backbone.scaled_depths == tuple(2 * d for d in backbone.source_depths)
    assert backbone.out_indices == tuple(cfg.model.backbone['out_indices'])


# what decides the function of an eval-mode forward (every other argument still goes through (a) above)
ARCHITECTURE = dict(embed_dims=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24), window_size=7, in_channels=3,
                    out_indices=(0, 1, 2, 3), strides=(4, 2, 2, 2), use_abs_pos_embed=False)


def distinct_backbones() -> dict[str, tuple[str, dict]]:
    """One entry per distinct backbone function: ``{json of the architecture: (first config id, dict)}``."""
    distinct = {}
    for entry in SHIPPED:
        if isinstance(entry[2], str):
            continue
        backbone = {k: v for k, v in entry[2].model.backbone.to_dict().items() if k not in ('init_cfg', 'pretrained')}
        architecture = {k: tuple(v) if isinstance(v, list) else v for k, v in
                        dict(ARCHITECTURE, **{k: backbone[k] for k in ARCHITECTURE if k in backbone}).items()}
        key = json.dumps(dict(architecture, package=entry[0]), sort_keys=True)  # mmdet's and mmseg's Swin each
        distinct.setdefault(key, (config_id(entry), backbone))
    return distinct


BACKBONES = list(distinct_backbones().values())


def reference_swin(backbone: dict, package: str) -> torch.nn.Module:
    """The package's own ``SwinTransformer`` from the config, with non-trivial weights everywhere."""
    from mmdet.models.backbones import SwinTransformer as MMDetSwin
    from mmseg.models.backbones import SwinTransformer as MMSegSwin
    model = {'mmdet': MMDetSwin, 'mmseg': MMSegSwin}[package](**{k: v for k, v in backbone.items() if k != 'type'})
    with torch.no_grad():  # torch's default init for the linears; non-trivial norms, biases and tables
        for name, param in model.named_parameters():
            if param.ndim == 1:
                param.add_(torch.randn_like(param) * 0.1)
            elif 'relative_position_bias_table' in name or 'absolute_pos_embed' in name:
                param.normal_(0, 0.02)
    model.eval()
    return model


@pytest.mark.parametrize('name, backbone', BACKBONES, ids=[name for name, _ in BACKBONES])
def test_shipped_backbone_equals_the_reference_and_grows(tmp_path, name, backbone):
    reference = reference_swin(backbone, package=name.split(':')[0])
    path = str(tmp_path / 'reference.pth')
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in reference.state_dict().items()}}, path)
    ours = ScaleNetSwinTransformer(**{k: v for k, v in scalenet_backbone(backbone).items() if k != 'type'})
    report = load_pretrained(ours, path)
    assert not [k for k in report.initialised if not re.search(r'\.(adapters|layer_map)', k)]
    ours.eval()
    x = torch.randn(1, backbone.get('in_channels', 3), 96, 136)
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert len(got) == len(expected) == len(backbone['out_indices'])
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-4)
    grown = ScaleNetSwinTransformer(**{k: v for k, v in scalenet_backbone(backbone, depth_scale=2).items()
                                       if k != 'type'})
    load_pretrained(grown, path)
    with torch.no_grad():
        outs = grown.eval()(x)
    assert [o.shape for o in outs] == [e.shape for e in expected]


def test_the_documented_drop_in_recipe_builds(tmp_path):
    from pathlib import Path
    page = (Path(__file__).resolve().parents[1] / 'docs' / 'mmdet_mmseg_integration.md').read_text()
    recipe = re.search(r"```python\n(_base_ = \['mmdet::swin/.*?)```", page, flags=re.S).group(1)
    path = tmp_path / 'recipe.py'
    path.write_text(recipe)
    from mmengine.config import Config
    cfg = Config.fromfile(str(path))
    model = build_model(cfg)
    assert isinstance(model.backbone, ScaleNetSwinTransformer) and model.backbone.scaled_depths == (4, 4, 12, 4)
